"""Transient storage faults are retried; permanent ones fail with the reason; kills lose nothing."""

import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


@pytest.fixture
def shard_in_s3(s3_server, tmp_path, monkeypatch):
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    bucket = s3_server.make_bucket()
    table = pa.table({"id": list(range(200)), "payload": [os.urandom(2000) for _ in range(200)]})
    pq.write_table(table, tmp_path / "s.parquet", row_group_size=20)
    s3_server.client().upload_file(str(tmp_path / "s.parquet"), bucket, "s.parquet")
    return bucket, table


def read_through(proxy, bucket, attempts=4):
    from agiqa.config import StorageConfig
    from agiqa.storage.s3 import S3Store

    store = S3Store(StorageConfig(endpoint_url=proxy.endpoint, addressing_style="path", max_attempts=attempts,
                                  read_block_bytes=64 * 1024, read_timeout_s=2, connect_timeout_s=2))
    return pq.ParquetFile(store.open_read(f"s3://{bucket}/s.parquet")).read()


@pytest.mark.parametrize("mode", ["503", "drop", "delay"])
def test_transient_faults_are_retried(fault_proxy, shard_in_s3, mode):
    bucket, table = shard_in_s3
    fault_proxy.set(mode, faults=2, delay_s=3.0)  # delay > read timeout: a timeout, then retries
    assert read_through(fault_proxy, bucket).equals(table)
    assert fault_proxy.connections > 2  # the faults really happened and were retried


def test_permanent_fault_fails_with_reason(fault_proxy, shard_in_s3):
    bucket, _ = shard_in_s3
    fault_proxy.set("503", faults=10_000)
    with pytest.raises(OSError, match="ServiceUnavailable|503|after"):
        read_through(fault_proxy, bucket, attempts=2)


def test_killed_mid_job_then_rerun_scores_every_row_exactly_once(tiny_model_dir, tmp_path):
    """SIGKILL the scoring process after its first committed shard; the rerun completes the rest."""
    from agiqa.training.learnability import write_shards

    data, out = tmp_path / "data", tmp_path / "out"
    write_shards(str(data), rows=40, shards=5, seed=3, size=64)
    cmd = [sys.executable, "-m", "agiqa", "score", "--input", str(data), "--output", str(out), "--model",
           str(tiny_model_dir), "--runner", "local", "--max-new-tokens", "6", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while not list(out.glob("*.manifest.json")):
        assert proc.poll() is None, "scorer exited before committing a shard"
        assert time.time() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    committed_before = len(list(out.glob("*.manifest.json")))
    assert committed_before < 5, "the kill came too late to test anything"

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"{committed_before} skipped" in res.stdout
    for src in sorted(data.glob("*.parquet")):
        got = pq.read_table(out / src.name).column("id").to_pylist()
        assert got == pq.read_table(src).column("id").to_pylist()
    leftovers = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [] or all(p.startswith(".") for p in leftovers)
    assert len(list(out.glob("*.parquet"))) == 5
