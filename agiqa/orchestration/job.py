"""What every runner does before scoring: check access, open stores, plan, start a summary."""

from __future__ import annotations

from dataclasses import dataclass

from agiqa.orchestration.summary import JobSummary
from agiqa.pipeline.shards import plan_shards


@dataclass
class JobStart:
    in_store: object
    out_store: object
    todo: list
    summary: JobSummary


def start_job(cfg, runner: str) -> JobStart:
    """Fail fast on storage access, then split the shards into to-do and already committed."""
    from agiqa.storage import open_store
    from agiqa.storage.s3 import check_access

    check_access(cfg.input, cfg.output, cfg.storage)
    in_store, out_store = open_store(cfg.input, cfg.storage), open_store(cfg.output, cfg.storage)
    todo, skipped = plan_shards(cfg, in_store, out_store)
    summary = JobSummary(shards_total=len(todo) + len(skipped), shards_skipped=len(skipped), runner=runner,
                         config_hash=cfg.scoring_hash())
    return JobStart(in_store, out_store, todo, summary)
