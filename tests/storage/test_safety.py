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
    assert written and all(root in p.parents for p in written), written
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


def test_output_root_reads_as_a_parquet_dataset_and_old_manifests_still_resume(small_shards, tmp_path):
    import json

    import pyarrow.dataset as ds

    out = tmp_path / "out"
    score(fake_config(small_shards, out))
    assert ds.dataset(out, format="parquet").to_table().num_rows == 40  # sidecars under _agiqa/ are skipped
    sidecars = list(out.rglob("*.json"))
    assert sidecars and all("_agiqa" in p.parts for p in sidecars)
    # a manifest where older versions wrote it (beside the shard) still counts, and moves on recommit
    new = out / "_agiqa" / "manifests" / "a.parquet.manifest.json"
    old = out / "a.parquet.manifest.json"
    old.write_text(new.read_text())
    new.unlink()
    assert score(fake_config(small_shards, out)).shards_skipped == 4
    m = json.loads(old.read_text())
    m["identity_hash"] = "stale"
    old.write_text(json.dumps(m))
    assert score(fake_config(small_shards, out)).shards_done == 1
    assert new.exists() and not old.exists()
