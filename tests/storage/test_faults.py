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


def read_through(proxy, bucket, attempts=4):
    from agiqa.storage.config import StorageConfig
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
