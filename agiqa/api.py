"""The public Python API: what the CLI and `jobs/*.py` call, and what notebooks and pipelines use.

    from agiqa.api import load_score_config, score
    summary = score(load_score_config("job.yaml", {"runner": {"kind": "local"}}))
    print(summary.table())

Each function takes a validated config, refuses bad setups before any model loads (raising
`agiqa.errors.AgiqaError` subclasses with one-line messages), and returns the job summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agiqa.config.score_job import ScoreJobConfig, load_score_config

if TYPE_CHECKING:
    from agiqa.runner.summary import JobSummary

__all__ = ["ScoreJobConfig", "load_score_config", "score"]


def score(cfg: ScoreJobConfig | dict, **job_options) -> JobSummary:
    """Score every shard of `cfg.input` into `cfg.output` with `cfg.method`; committed shards are skipped.

    `job_options` reach the runner's `ShardJob` (e.g. `open_store` for a custom store).
    """
    from agiqa.runner.run import run_job
    from agiqa.workflows.score import build_score_job

    if isinstance(cfg, dict):
        cfg = ScoreJobConfig.model_validate(cfg)
    return run_job(build_score_job(cfg, **job_options))
