"""The public Python API: what the CLI and `jobs/*.py` call, and what notebooks and pipelines use.

    from agiqa.api import load_score_config, score
    summary = score(load_score_config("job.yaml", {"runner": {"kind": "local"}}))
    print(summary.table())

Each function takes a validated config, refuses bad setups before any model loads (raising
`agiqa.errors.AgiqaError` subclasses with one-line messages), and returns the job summary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agiqa.config.audit_job import AuditJobConfig
from agiqa.config.filter_job import FilterJobConfig, load_filter_config
from agiqa.config.score_job import ScoreJobConfig, load_score_config
from agiqa.schema import validated

if TYPE_CHECKING:
    from agiqa.ingest.config import IngestConfig
    from agiqa.ingest.report import IngestSummary
    from agiqa.runner.summary import JobSummary

__all__ = ["AuditJobConfig", "FilterJobConfig", "ScoreJobConfig", "audit", "filter", "filter_dry_run", "ingest",
           "load_filter_config", "load_score_config", "merge_summaries", "score"]


def score(cfg: ScoreJobConfig | dict, **job_options) -> JobSummary:
    """Score every shard of `cfg.input` into `cfg.output` with `cfg.method`; committed shards are skipped.

    `job_options` reach the runner's `ShardJob` (e.g. `open_store` for a custom store).
    """
    from agiqa.runner.run import run_job
    from agiqa.workflows.score import build_score_job

    cfg = validated(ScoreJobConfig, cfg)
    return run_job(build_score_job(cfg, **job_options))


def ingest(cfg: IngestConfig | dict, **options) -> IngestSummary:
    """Ingest `cfg.input` (images + table, tars, Hugging Face Parquet) into agiqa-layout shards at
    `cfg.output`; committed shards are skipped. The summary is also written to
    `<output>.agiqa/ingest-report.json`. Runs in the light install (no torch; Ray only with
    `runner="ray"`)."""
    from agiqa.ingest.config import IngestConfig
    from agiqa.workflows.ingest import run_ingest

    cfg = validated(IngestConfig, cfg, "ingest configuration")
    return run_ingest(cfg, **options)


def filter(cfg: FilterJobConfig | dict, **job_options) -> JobSummary:
    """Split scored rows into keep/ and drop/ (with reasons) under `cfg.output` by `cfg.rules`; with
    `cfg.score`, score first in the same job. Global thresholds are in `summary.reduced`, counts per
    shard and reason in `OUTPUT.agiqa/stats.json`."""
    from agiqa.runner.run import run_job
    from agiqa.workflows.filter import build_filter_job

    cfg = validated(FilterJobConfig, cfg)
    return run_job(build_filter_job(cfg, **job_options))


def merge_summaries(output: str, world_size: int | None = None, storage=None) -> dict:
    """Merge the rank summaries of a job run as N drivers (`runner.world_size`) into the output's
    `job_summary.json` and return it; `agiqa.errors.RanksError` while a rank's summary is missing."""
    from agiqa.runner.rank_summary import merge_rank_summaries
    from agiqa.runner.summary import SUMMARY_NAME
    from agiqa.storage import open_store
    from agiqa.storage.layout import state_uri

    store = open_store(output, storage)
    merged = merge_rank_summaries(store, output, world_size)
    store.write_json(state_uri(output, SUMMARY_NAME), merged)
    return merged


def filter_dry_run(cfg: FilterJobConfig | dict, **job_options) -> dict:
    """How many rows each rule would keep, and the thresholds, computed by the reduce steps; writes nothing."""
    from agiqa.workflows.filter import dry_run

    cfg = validated(FilterJobConfig, cfg)
    return dry_run(cfg, **job_options)


def audit(cfg: AuditJobConfig | dict) -> dict:
    """Write the audit report of `cfg.input` (grouped by `cfg.group_by`, compared with `cfg.compare`) to
    `cfg.output`; returns {numbers, compare, files, rows, thumbnails, seconds}."""
    from agiqa.workflows.audit import run_audit

    cfg = validated(AuditJobConfig, cfg)
    return run_audit(cfg)
