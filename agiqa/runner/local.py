"""Run every pass of a job in this process: the stage set up once per pass, shards one after another.

Used for `--runner local`, for debugging, and as the baseline the Ray runner is benchmarked against.
"""

from __future__ import annotations

import logging
import time

from agiqa.runner.job import ShardJob
from agiqa.runner.plan import PassPlan, plan_pass
from agiqa.runner.policy import ShardLedger, one_line, record_plan
from agiqa.runner.progress import Progress
from agiqa.runner.reduce import passes_of
from agiqa.runner.shard import ShardIO, run_shard
from agiqa.runner.summary import JobSummary

log = logging.getLogger(__name__)


def run_local(job: ShardJob) -> JobSummary:
    t0 = time.perf_counter()
    summary = JobSummary(runner="local")
    for p in passes_of(job, summary):
        t_pass = time.perf_counter()  # start-up counts each pass's planning and setup once
        plan = plan_pass(job, p)
        record_plan(summary, plan)
        if plan.todo:
            _run_pass(plan, summary, t_pass)
    summary.wall_s = time.perf_counter() - t0
    summary.write(job.open_store(job.output, job.storage), job.output)
    return summary


def _run_pass(plan: PassPlan, summary: JobSummary, t0: float) -> None:
    job, stage = plan.job, plan.pass_.stage
    stage.setup()
    try:
        summary.startup_s += time.perf_counter() - t0
        progress = Progress(len(plan.todo), enabled=job.progress, what=stage.name)
        io = ShardIO(stage, plan.pass_.output, plan.in_store, plan.out_store, plan.side_store, job.read_batch_rows,
                     plan.identity, plan.identity_hash, on_rows=progress.add_rows)
        ledger = ShardLedger(summary, job.max_shard_attempts, progress)
        for shard in plan.todo:
            while True:
                try:
                    report = run_shard(shard, io, side=plan.side_of(shard))
                except Exception as e:  # the stage broke on this shard: try again
                    log.debug("shard %s failed", shard.rel, exc_info=True)
                    if ledger.attempt_failed(shard.rel, one_line(e)):
                        continue
                    break
                ledger.settle(shard.rel, report.to_dict())
                break
        progress.close()
    finally:
        stage.teardown()
