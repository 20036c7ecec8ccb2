"""One name rule and one "nothing outside the root" check for every writer: the stores refuse a
target outside the root they were opened for; score, filter and audit refuse unsafe input names
per shard (moto keeps S3 keys exactly as given) and process the good ones; summaries quote names."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agiqa.api import audit, score
from agiqa.api import filter as filter_job
from agiqa.errors import UnsafeNameError
from agiqa.storage import open_store
from agiqa.storage.local import LocalStore
from agiqa.storage.names import outside_root, shown, unsafe_name
from agiqa.storage.s3 import S3Store
from tests.filtering.data import SCHEMA, scored_rows
from tests.fixtures.shards import write_shard
from tests.fixtures.state import state
from tests.runner.helpers import fake_config

#: Under `in/`; moto stores every control character but a newline (its router answers 404 for one).
BAD_KEYS = ["../../esc/evil.parquet", "x/../../../esc2.parquet", "/abs/evil.parquet", "a//b.parquet",
            "nul\x00.parquet", "tab\t.parquet", "cr\r.parquet", "esc\x1b[2J.parquet", "us\x1f.parquet"]


@pytest.mark.parametrize("code", [*range(32), 127])
def test_every_control_character_makes_a_name_unsafe_and_is_quoted_when_shown(code):
    name = f"a{chr(code)}b.parquet"
    assert unsafe_name(name) == "relative name has control characters"
    assert shown(name) == repr(name) and "\n" not in shown(name) and "\r" not in shown(name)
    assert shown("plain/name.parquet") == "plain/name.parquet"


@pytest.mark.parametrize("method", ["temp_path_for", "commit_file", "write_json", "delete"])
@pytest.mark.parametrize("target", ["../evil.parquet", "a/../../evil.parquet", "x//y.parquet", "a\nb.parquet",
                                    "ABS"])
def test_a_local_store_refuses_every_write_outside_its_root(tmp_path, method, target):
    root = tmp_path / "deep" / "out"
    store = open_store(str(root))
    uri = str(tmp_path / "evil.parquet") if target == "ABS" else f"{root}/{target}"
    (tmp_path / "src").write_bytes(b"data")
    args = {"temp_path_for": (uri,), "commit_file": (str(tmp_path / "src"), uri), "write_json": (uri, {"a": 1}),
            "delete": (uri,)}[method]
    with pytest.raises(UnsafeNameError, match="refused to write"):
        getattr(store, method)(*args)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["src"]  # nothing made, not even a folder


def test_a_symlink_inside_the_output_does_not_carry_writes_out(tmp_path):
    root, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "link").symlink_to(elsewhere)
    store = open_store(str(root))
    with pytest.raises(UnsafeNameError, match="symlink"):
        store.write_json(f"{root}/link/x.json", {"a": 1})
    store.write_json(f"{root}/real/x.json", {"a": 1})
    assert list(elsewhere.iterdir()) == [] and (root / "real" / "x.json").exists()


def test_a_store_opened_without_a_root_writes_nowhere(tmp_path):
    with pytest.raises(UnsafeNameError, match="without an output root"):
        LocalStore().write_json(str(tmp_path / "x.json"), {})
    assert not (tmp_path / "x.json").exists()


def test_an_s3_store_refuses_keys_outside_its_prefix(moto_s3, tmp_path, monkeypatch):
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    bucket = moto_s3.make_bucket()
    store = open_store(f"s3://{bucket}/out")
    assert isinstance(store, S3Store)
    for uri in (f"s3://{bucket}/other/x.json", f"s3://{bucket}/outside.json", f"s3://{bucket}/out/../x.json",
                f"s3://{bucket}/out//x.json", f"s3://{bucket}/out/a\x00.json", f"s3://other-{bucket}/out/x.json"):
        with pytest.raises(UnsafeNameError):
            store.write_json(uri, {"a": 1})
        with pytest.raises(UnsafeNameError):
            store.delete(uri)
        (tmp_path / "staged").write_bytes(b"x")
        with pytest.raises(UnsafeNameError):
            store.commit_file(str(tmp_path / "staged"), uri)
        assert not (tmp_path / "staged").exists()  # consumed, as on any other outcome
        with pytest.raises(UnsafeNameError):
            store.temp_path_for(uri)
    store.write_json(f"s3://{bucket}/out/_agiqa/ok.json", {"a": 1})
    keys = [o["Key"] for o in moto_s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["out/_agiqa/ok.json"]


def test_outside_root_accepts_relative_and_trailing_slash_roots(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert outside_root("out/", "out/a/b.parquet") is None and outside_root("./out", "out/a.parquet") is None
    assert outside_root("s3://b/out/", "s3://b/out/a.parquet") is None and outside_root("s3://b", "s3://b/a") is None
    assert outside_root("s3://b/out", "s3://b/output/a") and outside_root("out", "outer/a")


def _upload_bad_and_good(moto_s3, monkeypatch, tmp_path, table: pa.Table) -> str:
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    c, bucket = moto_s3.client(), moto_s3.make_bucket()
    src = tmp_path / "src.parquet"
    pq.write_table(table, src)
    for key in ["good.parquet", *BAD_KEYS]:
        c.upload_file(str(src), bucket, f"in/{key}")
    return bucket


def _outside(tmp_path, root):
    return [p for p in tmp_path.rglob("*") if p.is_file() and root not in p.parents and state(root) not in p.parents
            and p.name != "src.parquet"]  # the state root beside the output is the job's own


def test_score_refuses_control_characters_and_escapes_per_shard(moto_s3, tmp_path, monkeypatch):
    src = tmp_path / "s.parquet"
    write_shard(src, [1, 2], ["a", "b"])
    bucket = _upload_bad_and_good(moto_s3, monkeypatch, tmp_path, pq.read_table(src))
    src.unlink()
    out = tmp_path / "deep" / "out"
    summary = score(fake_config(f"s3://{bucket}/in", out))
    assert summary.shards_done == 1 and sorted(f["shard"] for f in summary.failed) == sorted(BAD_KEYS)
    assert _outside(tmp_path, out) == [] and pq.read_table(out / "good.parquet").num_rows == 2
    table = summary.table()
    assert "\x1b" not in table and "\r" not in table and "\x00" not in table
    assert all(line.startswith(("job summary", "---", "  ")) for line in table.splitlines())


def test_filter_refuses_unsafe_shards_and_its_stats_never_read_them(moto_s3, tmp_path, monkeypatch):
    rows = scored_rows(seed=4)["b.parquet"]
    bucket = _upload_bad_and_good(moto_s3, monkeypatch, tmp_path, pa.Table.from_pylist(rows, schema=SCHEMA))
    out = tmp_path / "deep" / "out"
    summary = filter_job({"input": f"s3://{bucket}/in", "output": str(out), "runner": {"kind": "local"},
                          "progress": False, "rules": ["top_fraction quality_score=0.5"]})
    assert sorted(f["shard"] for f in summary.failed) == sorted(BAD_KEYS)
    assert _outside(tmp_path, out) == []
    stats = json.loads((state(out) / "stats.json").read_text())
    assert list(stats["per_shard"]) == ["good.parquet"] and stats["rows_in"] == len(rows)
    kept, dropped = pq.read_table(out / "keep" / "good.parquet"), pq.read_table(out / "drop" / "good.parquet")
    assert kept.num_rows + dropped.num_rows == len(rows)


def test_audit_reports_unsafe_shards_and_reads_the_good_ones(moto_s3, tmp_path, monkeypatch):
    from agiqa.workflows.audit import summary_line

    rows = scored_rows(seed=4)["b.parquet"]
    bucket = _upload_bad_and_good(moto_s3, monkeypatch, tmp_path, pa.Table.from_pylist(rows, schema=SCHEMA))
    out = tmp_path / "report"
    result = audit({"input": f"s3://{bucket}/in", "output": str(out), "group_by": ["generator"]})
    assert result["rows"] == len(rows)
    refused = sorted(r["shard"] for r in result["refused"])
    assert refused == sorted(f"s3://{bucket}/in/{k}" for k in BAD_KEYS)
    assert json.loads((out / "audit.json").read_text())["refused"] == result["refused"]
    line = summary_line(result)
    assert "9 shard(s) refused" in line and "\x1b" not in line and "\r" not in line
    assert _outside(tmp_path, out) == []


def test_a_newline_in_a_shard_name_cannot_forge_a_summary_line():
    from agiqa.runner.summary import JobSummary

    forged = "x.parquet after 1 attempt(s): ok\n  rows    1000000 ok"
    s = JobSummary(shards_total=1, failed=[{"shard": forged, "reason": "refused: bad\nname", "attempts": 0}])
    lines = s.table().splitlines()
    assert not any(ln.startswith("  rows    1000000") for ln in lines)
    assert [ln for ln in lines if "FAILED" in ln] == [f"  FAILED  {forged!r} after 0 attempt(s): 'refused: bad\\nname'"]


def test_score_over_a_local_folder_refuses_a_shard_whose_name_forges_summary_lines(tmp_path):
    src = tmp_path / "in"
    write_shard(src / "good.parquet", [1, 2], ["a", "b"])
    forged = "x.parquet\n  FAILED  nothing; every shard done\n  rows    999 ok\nz.parquet"
    write_shard(src / forged, [3], ["c"])
    summary = score(fake_config(src, tmp_path / "out"))
    assert summary.shards_done == 1 and [f["shard"] for f in summary.failed] == [forged]
    assert summary.failed[0]["reason"] == "refused: relative name has control characters"
    lines = summary.table().splitlines()
    assert not any(ln.startswith(("  rows    999", "  FAILED  nothing", "z.parquet")) for ln in lines)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.parquet")) == ["good.parquet"]
