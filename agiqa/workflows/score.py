"""The score job: one pass of `ScoreStage(method)` from the input root to the output root."""

from __future__ import annotations

from agiqa.config.score_job import ScoreJobConfig
from agiqa.runner.job import Pass, ShardJob


def build_score_job(cfg: ScoreJobConfig, **job_options) -> ShardJob:
    """The runner's job for `cfg` (the method is built, not set up: nothing heavy loads here)."""
    import os

    from agiqa.data.sources import ImageSource
    from agiqa.extras import require
    from agiqa.stages.score import ScoreStage
    from agiqa.workflows.inputs import refuse_url_images

    aspects = tuple(cfg.aspects)
    require("score", (*cfg.method.requires_modules, *(("ray",) if cfg.runner.kind == "ray" else ())),
            f"scoring with {cfg.method.name!r}" + (" on Ray" if cfg.runner.kind == "ray" else ""))
    refuse_url_images(cfg.input, cfg.columns.image, cfg.storage)
    here = cfg.runner.kind == "local" or not (cfg.runner.address or os.environ.get("RAY_ADDRESS"))
    cfg.method.check(aspects, on_this_machine=here)
    method = cfg.method.build(aspects)
    stage = ScoreStage(method, cfg.columns, cfg.images, method.resources.override(**cfg.stage_resources("score")),
                       source=ImageSource(cfg.storage))
    return ShardJob(
        passes=[Pass(stage, cfg.input, cfg.output)], storage=cfg.storage, runner=cfg.runner.kind,
        address=cfg.runner.address, read_batch_rows=cfg.read_batch_rows, overwrite=cfg.overwrite,
        max_shard_attempts=cfg.runner.max_shard_attempts,
        shards_in_flight_per_actor=cfg.runner.shards_in_flight_per_actor, progress=cfg.progress, **job_options)
