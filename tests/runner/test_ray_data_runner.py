"""`runner.kind: ray-data` on a real local Ray, with FakeMethod: the same bytes and manifests as the
local runner, resume, and two passes with a reduce between them. The fault tests are in modules of their
own (`test_ray_data_retry.py`, `test_ray_data_poison.py`): see why there."""

from __future__ import annotations

import pyarrow.parquet as pq

from agiqa.runner.run import run_job
from agiqa.workflows.score import build_score_job
from tests.runner.helpers import fake_config
from tests.runner.test_ray_runner import assert_every_row_once, shards


def _outputs(root) -> dict[str, bytes]:
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*.parquet"))}


def test_same_bytes_and_manifests_as_local_and_a_rerun_skips_every_shard(ray_local, tmp_path):
    from agiqa.runner.manifest import is_committed, read_manifest
    from agiqa.storage import open_store

    data = shards(tmp_path)
    local, rd = tmp_path / "local", tmp_path / "rd"
    assert not run_job(build_score_job(fake_config(data, local, runner="local"))).failed
    summary = run_job(build_score_job(fake_config(data, rd, runner="ray-data")))
    assert summary.runner == "ray-data" and (summary.shards_done, summary.shards_failed, summary.rows_ok) == (3, 0, 24)
    assert _outputs(rd) == _outputs(local) and len(_outputs(rd)) == 3
    store = open_store(str(rd), None)
    for shard in store.list_shards(str(data)):
        m, want = read_manifest(store, str(rd), shard), read_manifest(store, str(local), shard)
        assert is_committed(m, summary.identity_hash, shard, None), shard.rel
        assert m["rows_by_status"] == want["rows_by_status"] and m["identity_hash"] == want["identity_hash"]

    again = run_job(build_score_job(fake_config(data, rd, runner="ray-data")))
    assert (again.shards_skipped, again.shards_done, again.shards_failed) == (3, 0, 0)
    assert _outputs(rd) == _outputs(local)


def test_two_passes_with_a_reduce_between_them(ray_local, tmp_path):
    from agiqa.runner.job import Pass, Reduce
    from agiqa.testing.fakes import ThresholdStage

    data, scored, split = shards(tmp_path), tmp_path / "scored", tmp_path / "split"
    job = build_score_job(fake_config(data, scored, runner="ray-data"))

    def median(ctx):
        values = sorted(v for t in ctx.scan(str(scored), ["quality_score"]) for v in t.column(0).to_pylist())
        return {"threshold": values[len(values) // 2]}

    job.passes += [Reduce("cut", median),
                   Pass(lambda r: ThresholdStage("quality_score", r["cut"]["threshold"]), str(data), str(split),
                        side_input=str(scored))]
    summary = run_job(job)
    assert summary.stages == ["score", "threshold"] and (summary.shards_done, summary.shards_failed) == (6, 0)
    want = sorted(pq.read_table(scored).column("quality_score").to_pylist())[12]
    assert summary.reduced["cut"] == {"threshold": want}
    kept = pq.read_table(split / "kept").column("side_value").to_pylist()
    dropped = pq.read_table(split / "dropped").column("side_value").to_pylist()
    assert len(kept) + len(dropped) == 24 and min(kept) >= want > max(dropped)
    assert_every_row_once(data, scored)
