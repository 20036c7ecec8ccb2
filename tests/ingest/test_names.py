"""Ingest never writes outside its output and reads inputs where they are: S3 keys with `..`, `//`, a
leading `/` or control characters, and local symlinks out of the input, are refused per file and
reported; the good files are ingested."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from agiqa.api import ingest
from tests.fixtures.shards import png
from tests.fixtures.state import state
from tests.ingest.test_tars import img2dataset_shard

#: Keys under `in/` that joined onto a local output would land outside it, or forge log lines. moto
#: stores every control character but a newline (its router answers 404); local names test that one.
BAD_RELS = ["../esc2/evil", "a/../../esc/evil", "/abs/evil", "x//y", "nul\x00x", "tab\tx", "ctl\x01x", "esc\x1bx", "cr\rx", "us\x1fx"]


def _s3_env(moto_s3, monkeypatch):
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)


def _outside(tmp_path, out, sources=()):
    return [p for p in tmp_path.rglob("*") if p.is_file() and out not in p.parents and state(out) not in p.parents
            and p not in sources]  # the state root beside the output is the job's own


def _hf_parquet(path, n=3, seed=0):
    pq.write_table(pa.table({"image": [png(seed + i, 8, 8) for i in range(n)], "prompt": [f"p{i}" for i in range(n)]}),
                   path)


@pytest.mark.parametrize("fmt", ["webdataset", "parquet"])
def test_ingest_from_s3_refuses_keys_that_would_escape_and_ingests_the_rest(moto_s3, tmp_path, monkeypatch, fmt):
    _s3_env(moto_s3, monkeypatch)
    c, bucket = moto_s3.client(), moto_s3.make_bucket()
    src = tmp_path / "src"
    src.mkdir()
    if fmt == "webdataset":
        img2dataset_shard(src, 0, 3, sibling=False)
        one, ext = src / "00000.tar", ".tar"
    else:
        one, ext = src / "s.parquet", ".parquet"
        _hf_parquet(one)
    for rel in ["good", *BAD_RELS]:
        c.upload_file(str(one), bucket, f"in/{rel}{ext}")
    out = tmp_path / "deep" / "out"
    summary = ingest({"input": f"s3://{bucket}/in", "output": str(out), "format": fmt, "workers": 2})
    refused = {s.item: s for s in summary.skipped if s.code == "unsafe_name"}
    assert sorted(refused) == sorted(r + ext for r in BAD_RELS), summary.skipped
    assert all(s.reason.startswith("refused: ") for s in refused.values())
    assert summary.ok and summary.shards_written == 1 and summary.rows_written == 3
    assert pq.read_table(out / "good.parquet").num_rows == 3
    assert _outside(tmp_path, out, {one}) == []
    assert not any((tmp_path / "deep" / d).exists() for d in ("esc", "esc2"))
    again = ingest({"input": f"s3://{bucket}/in", "output": str(out), "format": fmt})  # the rerun is as safe
    assert again.shards_already_done == 1 and _outside(tmp_path, out, {one}) == []


def test_ingest_from_s3_folder_of_images_reports_unsafe_image_names(moto_s3, tmp_path, monkeypatch):
    _s3_env(moto_s3, monkeypatch)
    c, bucket = moto_s3.client(), moto_s3.make_bucket()
    for i, rel in enumerate(["good", "also/good", *BAD_RELS]):
        c.put_object(Bucket=bucket, Key=f"in/{rel}.png", Body=png(i, 8, 8))
    out = tmp_path / "out"
    summary = ingest({"input": f"s3://{bucket}/in", "output": str(out)})
    assert sorted(s.item for s in summary.skipped if s.code == "unsafe_name") == sorted(r + ".png" for r in BAD_RELS)
    ids = pq.read_table(out / "part-00000.parquet").column("id").to_pylist()
    assert summary.ok and ids == ["also/good.png", "good.png"]


def test_local_tar_with_a_control_character_in_its_name_is_refused_per_file(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    img2dataset_shard(src, 0, 2, sibling=False)
    img2dataset_shard(src, 1, 2, sibling=False)
    (src / "00001.tar").rename(src / "forged\nline.tar")
    out = tmp_path / "out"
    summary = ingest({"input": str(src), "output": str(out)})
    assert [(s.item, s.code) for s in summary.skipped] == [("forged\nline.tar", "unsafe_name")]
    assert summary.shards_written == 1 and sorted(p.name for p in out.glob("*.parquet")) == ["00000.parquet"]


def _linked_input(tmp_path):
    secret, src = tmp_path / "elsewhere", tmp_path / "in"
    secret.mkdir()
    src.mkdir()
    (secret / "private.png").write_bytes(png(9, 8, 8))
    (src / "mine.png").write_bytes(png(1, 8, 8))
    (src / "link.png").symlink_to(secret / "private.png")
    (src / "inside.png").symlink_to(src / "mine.png")  # a link that stays inside the input is read as usual
    return src


def test_symlinks_out_of_the_input_are_refused_and_reported_by_default(tmp_path):
    src = _linked_input(tmp_path)
    summary = ingest({"input": str(src), "output": str(tmp_path / "out")})
    assert [(s.item, s.code) for s in summary.skipped] == [("link.png", "symlink_outside_input")]
    assert "--follow-symlinks" in summary.skipped[0].reason
    ids = pq.read_table(tmp_path / "out" / "part-00000.parquet").column("id").to_pylist()
    assert summary.ok and ids == ["inside.png", "mine.png"]
    (tmp_path / "via").symlink_to(src)  # an input root given through a link: its files are inside it
    again = ingest({"input": str(tmp_path / "via"), "output": str(tmp_path / "out2")})
    assert [s.item for s in again.skipped] == ["link.png"] and again.rows_written == 2


def test_follow_symlinks_ingests_them_when_asked(tmp_path, capsys):
    from agiqa.cli import main

    src = _linked_input(tmp_path)
    assert main(["ingest", "--input", str(src), "--output", str(tmp_path / "out"), "--follow-symlinks"]) == 0
    ids = pq.read_table(tmp_path / "out" / "part-00000.parquet").column("id").to_pylist()
    assert ids == ["inside.png", "link.png", "mine.png"]
