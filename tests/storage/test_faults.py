"""Transient storage faults are retried; permanent ones fail with the reason (kills: tests/runner/test_m3_jobs.py)."""

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


@pytest.fixture
def shard_in_s3(s3_env, tmp_path):
    s3_server = s3_env
    bucket = s3_server.make_bucket()
    table = pa.table({"id": list(range(200)), "payload": [os.urandom(2000) for _ in range(200)]})
    pq.write_table(table, tmp_path / "s.parquet", row_group_size=20)
    s3_server.client().upload_file(str(tmp_path / "s.parquet"), bucket, "s.parquet")
    return bucket, table


def read_through(proxy, bucket, attempts=4, budget_s=300):
    from agiqa.storage.config import StorageConfig
    from agiqa.storage.s3 import S3Store

    store = S3Store(StorageConfig(endpoint_url=proxy.endpoint, addressing_style="path", max_attempts=attempts,
                                  read_block_bytes=64 * 1024, read_timeout_s=2, connect_timeout_s=2,
                                  outage_budget_s=budget_s))
    return pq.ParquetFile(store.open_read(f"s3://{bucket}/s.parquet")).read()


@pytest.mark.parametrize("mode", ["503", "drop", "delay"])
def test_transient_faults_are_retried(fault_proxy, shard_in_s3, mode):
    bucket, table = shard_in_s3
    fault_proxy.set(mode, faults=2, delay_s=3.0)  # delay > read timeout: a timeout, then retries
    assert read_through(fault_proxy, bucket).equals(table)
    assert fault_proxy.connections > 2  # the faults really happened and were retried


def test_a_fault_that_outlasts_the_budget_fails_with_reason(fault_proxy, shard_in_s3):
    from agiqa.storage.retry import StorageUnavailable

    bucket, _ = shard_in_s3
    fault_proxy.set("503", faults=10_000)
    with pytest.raises(StorageUnavailable, match=r"503.*still failing after .* storage outage budget"):
        read_through(fault_proxy, bucket, attempts=2, budget_s=1)


def _outage_job(proxy, bucket, budget_s):
    from agiqa.config import ScoreJobConfig

    return ScoreJobConfig(input=f"s3://{bucket}/in", output=f"s3://{bucket}/out",
                          method={"name": "fake", "seconds_per_row": 0.05}, read_batch_rows=2, progress=False,
                          runner={"kind": "local", "max_shard_attempts": 2},
                          storage={"endpoint_url": proxy.endpoint, "addressing_style": "path", "max_attempts": 1,
                                   "connect_timeout_s": 1, "read_timeout_s": 2, "read_block_bytes": 64 * 1024,
                                   "outage_budget_s": budget_s})


def _outage_once_started(proxy, s3, bucket, seconds, after="out.agiqa/lease.json", delay_s=0.0):
    """Cut the endpoint for `seconds`, `delay_s` after the object `after` exists (the lease: the
    job's start-up checks are done)."""
    import threading
    import time

    def wait_then_cut():
        c, t = s3.client(), time.time()
        while time.time() - t < 60:
            if c.list_objects_v2(Bucket=bucket, Prefix=after).get("KeyCount"):
                break
            time.sleep(0.02)
        time.sleep(delay_s)
        proxy.outage(seconds)

    threading.Thread(target=wait_then_cut, daemon=True).start()


@pytest.fixture
def shards_in_s3(s3_env, small_shards):
    bucket = s3_env.make_bucket()
    for p in sorted(small_shards.rglob("*.parquet")):
        s3_env.client().upload_file(str(p), bucket, f"in/{p.relative_to(small_shards).as_posix()}")
    return bucket


def test_a_job_rides_out_an_outage_shorter_than_its_budget(fault_proxy, shards_in_s3, s3_env):
    """The endpoint goes away for 4 s mid-job (every connection reset): reads, commits and manifests
    wait it out; every shard is committed once, nothing fails."""
    import agiqa.testing.fakes  # noqa: F401
    from agiqa.api import score

    _outage_once_started(fault_proxy, s3_env, shards_in_s3, 4.0)
    summary = score(_outage_job(fault_proxy, shards_in_s3, budget_s=30))
    assert fault_proxy.resets > 0  # the outage really hit the job
    assert (summary.shards_done, summary.shards_failed) == (4, 0), summary.failed
    assert summary.rows_by_status == {"ok": 40}


def test_an_outage_past_the_budget_is_a_storage_fault_not_bad_data(fault_proxy, shards_in_s3, s3_env):
    import agiqa.testing.fakes  # noqa: F401
    from agiqa.api import score

    _outage_once_started(fault_proxy, s3_env, shards_in_s3, 30.0, after="out.agiqa/manifests/")  # mid-job
    summary = score(_outage_job(fault_proxy, shards_in_s3, budget_s=1))
    assert summary.failed, "the outage outlasted the budget: shards in it fail"
    for f in summary.failed:
        assert "storage outage budget" in f["reason"] and "not a readable Parquet file" not in f["reason"], f
        assert f["attempts"] == 2  # charged as attempts (retried), not failed at once as bad data
    fault_proxy.outage(0.0)
    again = score(_outage_job(fault_proxy, shards_in_s3, budget_s=30))
    assert again.shards_failed == 0 and again.shards_done + again.shards_skipped == 4
