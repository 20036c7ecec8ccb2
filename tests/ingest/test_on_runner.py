"""Ingest as a runner pass over work lists: Ray and local write the same bytes, a failed attempt is
retried without duplicating, N files make one shard through one work list, and the duplicate-ids
reduce gives the same answer in several hash buckets as in one."""

from __future__ import annotations

import json
import logging

import pyarrow.parquet as pq

from agiqa.api import ingest
from tests.fixtures.ray import ray_local  # noqa: F401 - fixture
from tests.fixtures.shards import png
from tests.fixtures.state import state
from tests.ingest.test_tars import img2dataset_shard


def _outputs(out) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.parquet"))}


def test_ray_runner_writes_the_same_bytes_as_the_local_one(ray_local, tmp_path):  # noqa: F811
    d = tmp_path / "i2d"
    d.mkdir()
    img2dataset_shard(d, 0, 6, failed=(1,), broken=(3,))
    img2dataset_shard(d, 1, 4)
    local = ingest({"input": str(d), "output": str(tmp_path / "local"), "runner": "local"})
    ray = ingest({"input": str(d), "output": str(tmp_path / "ray"), "runner": "ray", "workers": 2})
    assert local.ok and ray.ok and local.rows_written == ray.rows_written == 8
    assert _outputs(tmp_path / "ray") == _outputs(tmp_path / "local") and len(_outputs(tmp_path / "local")) == 2
    summary = json.loads((state(tmp_path / "ray") / "job_summary.json").read_text())
    assert summary["runner"] == "ray"
    reports = [json.loads((state(tmp_path / o) / "ingest-report.json").read_text()) for o in ("local", "ray")]
    assert reports[0]["skipped"] == reports[1]["skipped"]
    assert {s["code"] for s in reports[1]["skipped"]} == {"row_without_image", "image_undecodable"}


def test_a_failed_attempt_is_retried_and_every_image_lands_once(tmp_path):
    from agiqa.testing.faults import fail_once_reading

    d = tmp_path / "images"
    d.mkdir()
    files = {f"{i:03d}.png": png(i, 8, 8) for i in range(6)}
    for rel, data in files.items():
        (d / rel).write_bytes(data)
    marker = tmp_path / "failed-once"
    out = tmp_path / "out"
    s = ingest({"input": str(d), "output": str(out), "rows_per_shard": 3},
               open_store=fail_once_reading("004.png", str(marker)))
    assert marker.exists()  # the outage happened, on the second shard
    assert s.ok and s.shards_written == 2 and s.rows_written == 6
    rows = [r for p in sorted(out.glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    assert [r["id"] for r in rows] == sorted(files)
    assert all(r["image"] == files[r["id"]] for r in rows)
    assert json.loads((state(out) / "job_summary.json").read_text())["failed"] == []


def test_n_files_make_one_shard_through_one_work_list_and_an_unchanged_rerun_rewrites_nothing(tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    for i in range(5):
        (d / f"{i}.png").write_bytes(png(i, 8, 8))
        (d / f"{i}.txt").write_text(f"prompt {i}")
    (d / "3.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    args = {"input": str(d), "output": str(out), "rows_per_shard": 5}
    first = ingest(args)
    work = state(out) / "work" / "ingest" / "part-00000.parquet"
    wl = pq.read_table(work)
    assert [u.rsplit("/", 1)[-1] for u in wl.column("src.uri").to_pylist()] == [f"{i}.png" for i in range(5)]
    assert [f.name for f in out.glob("*.parquet")] == ["part-00000.parquet"]
    got = pq.read_table(out / "part-00000.parquet")
    assert got.schema.names == ["id", "image", "prompt"]
    assert got.column("id").to_pylist() == ["0.png", "1.png", "2.png", "4.png"]
    assert got.column("prompt").to_pylist() == ["prompt 0", "prompt 1", "prompt 2", "prompt 4"]
    assert first.skipped_by_code == {"image_undecodable": 1}
    mtime = work.stat().st_mtime_ns
    again = ingest(args)
    assert work.stat().st_mtime_ns == mtime  # same listing, same bytes: not rewritten
    assert (again.shards_written, again.shards_already_done) == (0, 1)
    assert again.skipped_by_code == {"image_undecodable": 1} and again.rows_written == 4  # kept from the records
    (d / "3.png").write_bytes(png(3, 8, 8))
    fixed = ingest(args)
    assert (fixed.shards_written, fixed.rows_written, fixed.skipped_by_code) == (1, 5, {})


def test_duplicate_ids_in_several_buckets_match_one_bucket(tmp_path, monkeypatch, caplog):
    import agiqa.workflows.ids as ids
    from agiqa.api import score
    from tests.fixtures.shards import write_shard
    from tests.runner.helpers import fake_config

    write_shard(tmp_path / "in" / "a.parquet", ["x", "y", "z"])
    write_shard(tmp_path / "in" / "b.parquet", ["y", "w", "x"])
    write_shard(tmp_path / "in" / "c.parquet", ["x", "v"])
    monkeypatch.setattr(ids, "MAX_HASHES_PER_BUCKET", 2)
    with caplog.at_level(logging.DEBUG, logger="agiqa.workflows.ids"):
        summary = score(fake_config(tmp_path / "in", tmp_path / "out"))
    assert "4 bucket(s) of at most 2 hashes" in caplog.text
    assert summary.reduced["duplicate_ids"] == {"rows": 8, "duplicate_ids": 2, "duplicate_rows": 5, "null_ids": 0,
                                                "examples": ["x", "y"]}


def test_s3_to_s3_work_lists_keep_their_etag_so_a_rerun_skips(moto_s3, tmp_path, monkeypatch):
    import io

    from tests.ingest.test_names import _s3_env

    _s3_env(moto_s3, monkeypatch)
    c, bucket = moto_s3.client(), moto_s3.make_bucket()
    src = tmp_path / "src"
    src.mkdir()
    img2dataset_shard(src, 0, 4, failed=(1,), broken=(2,))
    for f in src.iterdir():
        c.upload_file(str(f), bucket, f"in/{f.name}")
    args = {"input": f"s3://{bucket}/in", "output": f"s3://{bucket}/out", "workers": 2}
    first = ingest(args)
    assert first.ok and first.rows_written == 2
    body = c.get_object(Bucket=bucket, Key="out/00000.parquet")["Body"].read()
    assert pq.read_table(io.BytesIO(body)).schema.names[:3] == ["id", "image", "prompt"]
    again = ingest(args)
    assert (again.shards_already_done, again.rows_written) == (1, 2)
    assert again.skipped_by_code == first.skipped_by_code == {"image_undecodable": 1, "row_without_image": 1}
