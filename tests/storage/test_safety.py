"""Never destroy or misplace data: overlapping roots, unsafe shard names, unwritable outputs, stale staging files."""

import os
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from agiqa.api import score
from agiqa.errors import ConfigError, DataError
from agiqa.storage.base import StorageError
from agiqa.storage.roots import overlap, unsafe_name
from tests.fixtures.shards import write_shard
from tests.fixtures.state import state
from tests.runner.helpers import fake_config


@pytest.mark.parametrize("output", ["same", "inside", "parent", "symlink", "relative"])
def test_output_overlapping_the_input_is_refused_before_any_work(small_shards, tmp_path, monkeypatch, output):
    before = {p: p.read_bytes() for p in small_shards.rglob("*.parquet")}
    (tmp_path / "link").symlink_to(small_shards)
    monkeypatch.chdir(tmp_path)
    out = {"same": small_shards, "inside": small_shards / "scored", "parent": tmp_path, "symlink": tmp_path / "link",
           "relative": "in/sub"}[output]
    with pytest.raises(ConfigError, match="overlaps the input"):
        score(fake_config(small_shards, out))
    assert {p: p.read_bytes() for p in small_shards.rglob("*.parquet")} == before
    assert not (small_shards / "scored").exists()


def test_s3_roots_overlap_by_bucket_and_prefix_not_by_string():
    assert overlap("s3://b/in", "s3://b/in/") and overlap("s3://b/in", "s3://b/in/out") and overlap("s3://b", "s3://b/x")
    assert not overlap("s3://b/in", "s3://b/input") and not overlap("s3://b/in", "s3://c/in")
    assert not overlap("s3://b/in", "/tmp/in")


@pytest.mark.parametrize("rel", ["/abs/x.parquet", "a//x.parquet", "../x.parquet", "a/../../x.parquet", "a/./x.parquet",
                                 "a/x\n.parquet", "a\\x.parquet", ""])
def test_unsafe_relative_names_are_named(rel):
    assert unsafe_name(rel)


def test_s3_keys_that_would_escape_the_output_root_are_refused_per_shard(moto_s3, tmp_path, monkeypatch):
    """moto keeps `in//abs/...` and `in/../../...` as given; nothing may land outside the output root."""
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    c = moto_s3.client()
    bucket = moto_s3.make_bucket()
    src = tmp_path / "s.parquet"
    write_shard(src, [1, 2], ["a", "b"])
    for key in ("in/good.parquet", "in//abs/evil.parquet", "in/../../evil.parquet", "in/x/../../../evil2.parquet"):
        c.upload_file(str(src), bucket, key)
    root = tmp_path / "deep" / "out"
    summary = score(fake_config(f"s3://{bucket}/in", root))
    reasons = {f["shard"]: f["reason"] for f in summary.failed}
    assert summary.shards_done == 1 and len(reasons) == 3, reasons
    assert all(r.startswith("refused:") for r in reasons.values())
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != src]
    assert written and all(root in p.parents or state(root) in p.parents for p in written), written
    assert pq.read_table(root / "good.parquet").num_rows == 2


def test_read_only_bucket_is_refused_before_any_work(s3_env, small_shards, monkeypatch):
    from tests.fixtures.s3 import READER_KEY, READER_SECRET

    bucket = s3_env.make_bucket()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", READER_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", READER_SECRET)
    t = time.perf_counter()
    with pytest.raises(StorageError, match=f"output s3://{bucket}/out: cannot write there: access denied"):
        score(fake_config(small_shards, f"s3://{bucket}/out"))
    assert time.perf_counter() - t < 10


def test_output_that_is_a_file_is_refused(small_shards, tmp_path):
    (tmp_path / "out.txt").write_text("precious")
    with pytest.raises(StorageError, match="is a file"):
        score(fake_config(small_shards, tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "precious"


def test_staging_files_of_dead_processes_are_cleaned_by_the_next_s3_job(s3_env, small_shards, tmp_path, monkeypatch):
    """Only this host's files of processes that no longer run: a home folder shared by two hosts holds
    the other host's uploads too, whose pids mean nothing here (one of them is this test's own pid)."""
    from agiqa.storage.staging import this_host

    monkeypatch.setenv("AGIQA_CACHE_DIR", str(tmp_path / "cache"))
    staging = tmp_path / "cache" / "staging"
    staging.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid, host = dead.stdout.strip(), this_host()
    stale = staging / f"{host}~{dead_pid}~x.upload.tmp"
    kept = [staging / f"{host}~{os.getpid()}~y.upload.tmp",  # this host, a live process
            staging / f"other-host~{dead_pid}~z.upload.tmp",  # another host: its pid says nothing here
            staging / f"other-host~{os.getpid()}~w.upload.tmp",
            staging / f"{dead_pid}-old.upload.tmp"]  # the older form does not say its host
    for p in [stale, *kept]:
        p.write_bytes(b"an upload")
    bucket = s3_env.make_bucket()
    score(fake_config(small_shards, f"s3://{bucket}/out"))
    assert not stale.exists() and all(p.exists() for p in kept)
    assert sorted(staging.iterdir()) == sorted(kept)  # the job's own staging files are gone too


def test_staging_names_carry_host_and_pid(tmp_path, monkeypatch):
    from agiqa.storage.staging import owner, staging_path, this_host

    monkeypatch.setenv("AGIQA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("socket.gethostname", lambda: "node-7.cluster~x/y")
    path = staging_path()
    assert os.path.basename(path).startswith(f"node-7.cluster_x_y~{os.getpid()}~")
    assert owner(os.path.basename(path)) == (this_host(), os.getpid())


def test_no_shards_found_is_an_error_that_says_what_was_looked_for(tmp_path):
    (tmp_path / "pngs").mkdir()
    (tmp_path / "pngs" / "a.png").write_bytes(b"x")
    with pytest.raises(DataError, match=r"no \*.parquet shards under .*pngs.*\.png"):
        score(fake_config(tmp_path / "pngs", tmp_path / "out"))


def test_output_root_holds_only_data_and_old_manifests_still_resume(small_shards, tmp_path):
    import json

    import pyarrow.dataset as ds

    out = tmp_path / "out"
    score(fake_config(small_shards, out))
    assert ds.dataset(out, format="parquet").to_table().num_rows == 40
    assert sorted(p.suffix for p in out.rglob("*") if p.is_file()) == [".parquet"] * 4  # nothing of the job's own
    new = state(out) / "manifests" / "a.parquet.manifest.json"
    assert new.is_file() and (state(out) / "job_summary.json").is_file()
    # manifests where older versions wrote them still count, and move into the state root
    beside, in_output = out / "a.parquet.manifest.json", out / "_agiqa" / "manifests" / "b.parquet.manifest.json"
    beside.write_text(new.read_text())
    new.unlink()
    in_output.parent.mkdir(parents=True)
    (state(out) / "manifests" / "b.parquet.manifest.json").rename(in_output)
    (out / "_agiqa" / "job_summary.json").write_text("{}")
    assert score(fake_config(small_shards, out)).shards_skipped == 4
    assert new.is_file() and not beside.exists() and (state(out) / "manifests" / "b.parquet.manifest.json").is_file()
    assert not (out / "_agiqa").exists()  # agiqa 0.1's state folder retired once the job finished
    m = json.loads(new.read_text())
    m["identity_hash"] = "stale"  # a torn hash with the same settings: redone, not refused
    new.write_text(json.dumps(m))
    assert score(fake_config(small_shards, out)).shards_done == 1
    assert json.loads(new.read_text())["identity_hash"] != "stale"


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_readers_refuse_a_damaged_output_in_one_line(small_shards, tmp_path, capsys, damage):
    """`eval`, `filter` and `audit` read a job's outputs through its manifests: a missing or truncated
    shard is said in one line (exit 2), not a traceback or a silently partial result."""
    from agiqa.cli import main

    out = tmp_path / "out"
    score(fake_config(small_shards, out))
    target = out / "b.parquet"
    if damage == "deleted":
        target.unlink()
    else:
        target.write_bytes(target.read_bytes()[:100])
    want = "are missing (first: 'b.parquet')" if damage == "deleted" else "changed since their commit (first: 'b.parquet'"
    for argv in (["eval", "--scored", str(out)],
                 ["filter", "--input", str(out), "--output", str(tmp_path / "f"), "--keep", "quality_score >= 1",
                  "--runner", "local", "--no-progress"],
                 ["audit", "--input", str(out), "--output", str(tmp_path / "a"), "--no-progress"]):
        capsys.readouterr()
        rc = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and want in err[0], (argv[0], err)


def test_ingest_rewrites_a_committed_output_that_was_deleted(tmp_path, capsys):
    from agiqa.cli import main
    from tests.fixtures.shards import png

    (tmp_path / "imgs").mkdir()
    for i in range(4):
        (tmp_path / "imgs" / f"{i}.png").write_bytes(png(i))
        (tmp_path / "imgs" / f"{i}.txt").write_text(f"prompt {i}")
    args = ["ingest", "--input", str(tmp_path / "imgs"), "--output", str(tmp_path / "out"), "--rows-per-shard", "2"]
    assert main(args) == 0
    (tmp_path / "out" / "part-00001.parquet").unlink()
    assert main(args) == 0
    assert pq.read_table(tmp_path / "out" / "part-00001.parquet").num_rows == 2


def test_on_s3_a_deleted_or_rewritten_output_is_scored_again(moto_s3, small_shards, monkeypatch):
    """The manifest records each output's size and ETag; planning HEADs them (same size, other bytes:
    the ETag tells)."""
    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    c = moto_s3.client()
    bucket = moto_s3.make_bucket()
    out = f"s3://{bucket}/out"
    assert score(fake_config(small_shards, out)).shards_done == 4
    c.delete_object(Bucket=bucket, Key="out/a.parquet")
    body = c.get_object(Bucket=bucket, Key="out/b.parquet")["Body"].read()
    c.put_object(Bucket=bucket, Key="out/b.parquet", Body=bytes(reversed(body)))
    again = score(fake_config(small_shards, out))
    assert (again.shards_done, again.shards_skipped) == (2, 2)
    assert sorted(again.passes[0]["redone_damaged"]) == ["a.parquet", "b.parquet"]
    assert c.get_object(Bucket=bucket, Key="out/b.parquet")["Body"].read() == body
