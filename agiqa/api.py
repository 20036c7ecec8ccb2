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
    from agiqa.ingest.config import IngestConfig
    from agiqa.ingest.report import IngestSummary
    from agiqa.runner.summary import JobSummary

__all__ = ["ScoreJobConfig", "ingest", "load_score_config", "score"]


def score(cfg: ScoreJobConfig | dict, **job_options) -> JobSummary:
    """Score every shard of `cfg.input` into `cfg.output` with `cfg.method`; committed shards are skipped.

    `job_options` reach the runner's `ShardJob` (e.g. `open_store` for a custom store).
    """
    from agiqa.runner.run import run_job
    from agiqa.workflows.score import build_score_job

    if isinstance(cfg, dict):
        cfg = ScoreJobConfig.model_validate(cfg)
    return run_job(build_score_job(cfg, **job_options))


def ingest(cfg: IngestConfig | dict, **options) -> IngestSummary:
    """Ingest `cfg.input` (images + table, tars, Hugging Face Parquet) into agiqa-layout shards at
    `cfg.output`; committed shards are skipped. The summary is also written to
    `<output>/_agiqa/ingest-report.json`. Runs in the light install (no torch or Ray)."""
    from pydantic import ValidationError

    from agiqa.errors import ConfigError
    from agiqa.ingest.config import IngestConfig
    from agiqa.ingest.job import run_ingest

    if isinstance(cfg, dict):
        try:
            cfg = IngestConfig.model_validate(cfg)
        except ValidationError as e:
            lines = [f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']}" for err in e.errors()]
            raise ConfigError("invalid ingest configuration: " + "; ".join(lines)) from None
    return run_ingest(cfg, **options)
