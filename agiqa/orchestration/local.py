"""Run a whole job in this process: the engine built once, shards one after another.

Used for `--runner local`, for debugging, and as the baseline the Ray runner is benchmarked
against. A shard whose processor raises is retried up to `max_shard_attempts` times.
"""

from __future__ import annotations

import logging
import time

from agiqa.orchestration.job import start_job
from agiqa.orchestration.progress import Progress
from agiqa.orchestration.summary import JobSummary
from agiqa.pipeline.shards import run_shard

log = logging.getLogger(__name__)


def run_local(cfg, processor=None) -> JobSummary:
    t0 = time.perf_counter()
    job = start_job(cfg, "local")
    in_store, out_store, todo, summary = job.in_store, job.out_store, job.todo, job.summary
    if todo:
        if processor is None:
            from agiqa.pipeline.factory import build_processor

            processor = build_processor(cfg)
        summary.startup_s = time.perf_counter() - t0
        progress = Progress(len(todo), enabled=cfg.progress)
        for shard in todo:
            reasons = []
            for attempt in range(1, cfg.ray.max_shard_attempts + 1):
                try:
                    report = run_shard(shard, cfg, processor, in_store, out_store)
                except Exception as e:  # the engine broke on this shard: try again
                    log.exception("shard %s failed (attempt %d)", shard.rel, attempt)
                    reasons.append(f"{type(e).__name__}: {e}")
                    continue
                if report.ok:
                    summary.add(report)
                else:  # the shard itself is bad: retrying cannot help
                    summary.failed.append({"shard": shard.rel, "reason": report.error, "attempts": attempt})
                break
            else:
                summary.failed.append({"shard": shard.rel, "reason": "; ".join(reasons),
                                       "attempts": cfg.ray.max_shard_attempts})
            progress.update(summary.rows_ok + summary.rows_error - progress.rows)
        progress.close()
    summary.wall_s = time.perf_counter() - t0
    summary.write(out_store, cfg.output)
    return summary
