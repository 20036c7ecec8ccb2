"""`runner.kind: ray-data`: a shard that kills its actor every time fails after `max_shard_attempts`, and the
shards beside it on the actor are not charged for it. A module of its own, so its own fresh local Ray
(see `test_ray_data_retry.py`)."""

from __future__ import annotations

from agiqa.runner.run import run_job
from agiqa.workflows.score import build_score_job
from tests.runner.helpers import fake_config
from tests.runner.test_ray_runner import shards


def test_a_shard_that_always_kills_its_actor_fails_after_n_attempts(ray_local, tmp_path):
    data, out = shards(tmp_path, poison="die"), tmp_path / "out"
    cfg = fake_config(data, out, runner="ray-data", die_on="die")
    cfg.runner.max_shard_attempts = 2
    summary = run_job(build_score_job(cfg))
    assert (summary.shards_done, summary.shards_failed) == (2, 1)
    assert summary.failed[0]["shard"] == "part-1.parquet" and summary.failed[0]["attempts"] == 2
    assert not (out / "part-1.parquet").exists() and (out / "part-0.parquet").exists()
