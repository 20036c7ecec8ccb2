"""`runner.kind: ray-data`: a shard whose actor dies once is retried and committed once. A module of its own,
so its own fresh local Ray: run after other Ray Data jobs on the same cluster, under pytest, the execution
that lost an actor waited forever (not reproduced in a plain process; cause not found)."""

from __future__ import annotations

from agiqa.runner.run import run_job
from agiqa.workflows.score import build_score_job
from tests.runner.helpers import fake_config
from tests.runner.test_ray_runner import assert_every_row_once, shards


def test_a_shard_whose_actor_dies_once_is_retried_and_committed_once(ray_local, tmp_path):
    """The 2nd shard kills its actor the first time it runs: Ray Data replaces the actor, the driver charges
    the shard one attempt and runs it again in a next round; every row lands once."""
    data, out, marker = shards(tmp_path, poison="die"), tmp_path / "out", tmp_path / "died"
    cfg = fake_config(data, out, runner="ray-data", die_on="die", die_marker=str(marker))
    summary = run_job(build_score_job(cfg))
    assert marker.exists(), "the fault was not injected"
    assert (summary.shards_done, summary.shards_failed, summary.rows_ok) == (3, 0, 24), summary.failed
    assert_every_row_once(data, out)
    assert len(list((tmp_path / "out.agiqa").rglob("part-1.parquet.manifest.json"))) == 1
