"""`run_job(job)`: run a `ShardJob` on Ray (default) or in this process, and return its summary."""

from __future__ import annotations

from agiqa.runner.job import ShardJob
from agiqa.runner.summary import JobSummary


def run_job(job: ShardJob) -> JobSummary:
    if job.runner == "local":
        from agiqa.runner.local import run_local

        return run_local(job)
    from agiqa.runner.ray.driver import run_on_ray

    return run_on_ray(job)
