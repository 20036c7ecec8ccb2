"""Jobs over a real S3 server (SeaweedFS): streaming reads, exactly-once outputs, resume, bad shards."""

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.fixtures.model import job_config


def upload_dir(client, bucket: str, prefix: str, folder: Path) -> None:
    for p in sorted(folder.glob("*.parquet")):
        client.upload_file(str(p), bucket, f"{prefix}/{p.name}")


def read_s3_table(client, bucket, key) -> pa.Table:
    return pq.read_table(io.BytesIO(client.get_object(Bucket=bucket, Key=key)["Body"].read()))


@pytest.fixture
def s3_job(s3_env, demo_shards):
    s3_server = s3_env
    bucket = s3_server.make_bucket()
    c = s3_server.client()
    upload_dir(c, bucket, "in", demo_shards)
    c.put_object(Bucket=bucket, Key="in/sub/not-parquet.parquet", Body=b"this is not parquet")
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": ["x"], "picture": [b"1"]}), buf)
    c.put_object(Bucket=bucket, Key="in/sub/no-prompt.parquet", Body=buf.getvalue())
    return bucket, c


@pytest.mark.slow
def test_s3_job_scores_every_row_once_and_reports_bad_shards(s3_job, tiny_model_dir, demo_shards):
    from agiqa.api import score

    bucket, c = s3_job
    cfg = job_config(tiny_model_dir, f"s3://{bucket}/in", f"s3://{bucket}/out", runner={"kind": "local"})
    summary = score(cfg)
    assert summary.shards_total == 5 and summary.shards_done == 3 and summary.shards_failed == 2
    reasons = {f["shard"]: f["reason"] for f in summary.failed}
    assert "not a readable Parquet file" in reasons["sub/not-parquet.parquet"]
    assert "missing required column" in reasons["sub/no-prompt.parquet"] and "prompt" in reasons["sub/no-prompt.parquet"]
    for p in sorted(demo_shards.glob("*.parquet")):
        src = pq.read_table(p)
        out = read_s3_table(c, bucket, f"out/{p.name}")
        assert out.column("id").to_pylist() == src.column("id").to_pylist()  # every row, once, in order
        assert "image" not in out.column_names and "quality_mos" in out.column_names  # extra columns kept
        assert set(out.column("status").to_pylist()) == {"ok"}
        man = c.get_object(Bucket=bucket, Key=f"out.agiqa/manifests/{p.name}.manifest.json")["Body"].read().decode()
        assert '"rows_out": 8' in man
        assert "agiqa-test-secret-key" not in man
    keys = [o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"]]
    assert all(k.endswith(".parquet") for k in keys), keys  # the output holds rows only
    state = [o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix="out.agiqa/")["Contents"]]
    assert "out.agiqa/job_summary.json" in state  # the job's own files sit beside it
    assert not any("sub/" in k for k in keys)  # failed shards leave nothing behind

    # rerun: everything committed is skipped; --overwrite redoes it
    again = score(cfg)
    assert again.shards_skipped == 3 and again.shards_done == 0
    redo = score(cfg.model_copy(update={"overwrite": True}))
    assert redo.shards_done == 3


def test_ranged_reader_streams_row_groups(s3_env, tmp_path):
    """Reading one row group of a large shard fetches a fraction of its bytes."""
    from agiqa.storage.config import StorageConfig
    from agiqa.storage.s3 import S3Store

    s3_server = s3_env
    bucket = s3_server.make_bucket()
    rows = 400
    table = pa.table({"id": list(range(rows)), "image": [bytes([i % 256]) * 20_000 for i in range(rows)],
                      "prompt": ["p"] * rows})
    path = tmp_path / "big.parquet"
    pq.write_table(table, path, row_group_size=50, compression="none")
    s3_server.client().upload_file(str(path), bucket, "big.parquet")
    store = S3Store(StorageConfig(read_block_bytes=256 * 1024))
    f = store.open_read(f"s3://{bucket}/big.parquet")
    pf = pq.ParquetFile(f)
    first = pf.read_row_group(0)
    assert first.num_rows == 50 and first.column("id").to_pylist() == list(range(50))
    fetched = f.requests * 256 * 1024
    assert fetched < f.size / 3, (f.requests, f.size)


def test_check_access_fails_fast_with_clear_messages(s3_env, monkeypatch):
    from agiqa.storage import check_access
    from agiqa.storage.base import StorageError
    from agiqa.storage.config import StorageConfig

    s3_server = s3_env
    bucket = s3_server.make_bucket()
    with pytest.raises(StorageError, match="bucket does not exist"):
        check_access(f"s3://{bucket}-missing/in", f"s3://{bucket}/out", StorageConfig())
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
    with pytest.raises(StorageError, match="access denied") as e:
        check_access(f"s3://{bucket}/in", f"s3://{bucket}/out", StorageConfig(max_attempts=1))
    assert "wrong-secret-value" not in str(e.value)
    from tests.fixtures.s3 import free_port

    with pytest.raises(StorageError, match="cannot reach"):
        check_access("s3://b/in", "s3://b/out", StorageConfig(endpoint_url=f"http://127.0.0.1:{free_port()}",
                                                              max_attempts=1, connect_timeout_s=1))
