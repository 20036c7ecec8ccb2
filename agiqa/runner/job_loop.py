"""The job-level loop every runner shares: each pass planned and recorded, run when it has work, then
the job's wall time and its finish (summary, lease). Runners differ only in how one pass runs."""

from __future__ import annotations

import time
from collections.abc import Callable

from agiqa.runner.finish import finish_job
from agiqa.runner.job import ShardJob
from agiqa.runner.plan import PassPlan, plan_pass
from agiqa.runner.policy import record_plan
from agiqa.runner.reduce import passes_of
from agiqa.runner.summary import JobSummary


def run_passes(job: ShardJob, summary: JobSummary,
               run_pass: Callable[[PassPlan, JobSummary, float], None]) -> JobSummary:
    """`run_pass(plan, summary, t_pass)` runs one pass's todo; `t_pass` is when its planning began, so each
    pass's planning and pool start count once in `summary.startup_s`."""
    t0 = time.perf_counter()
    for p in passes_of(job, summary):
        t_pass = time.perf_counter()
        plan = plan_pass(job, p)
        record_plan(summary, plan)
        if plan.todo:
            run_pass(plan, summary, t_pass)
    summary.wall_s = time.perf_counter() - t0
    finish_job(job, summary)
    return summary
