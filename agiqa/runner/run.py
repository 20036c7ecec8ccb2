"""`run_job(job)`: run a `ShardJob` on Ray (default: agiqa's actor pool; `ray-data`: Ray Data's) or in this
process, holding the lease on its output (`runner.lease`: one writer per output), and return its summary."""

from __future__ import annotations

from agiqa.runner.job import ShardJob
from agiqa.runner.summary import JobSummary


def run_job(job: ShardJob) -> JobSummary:
    from agiqa.runner.job import Pass
    from agiqa.runner.lease import lease_for
    from agiqa.storage import check_access
    from agiqa.storage.layout import log_roots

    first = next(p for p in job.passes if isinstance(p, Pass))
    check_access(first.input, job.output, job.storage)  # before the lease writes beside the output
    log_roots("job", first.input, job.output)
    with lease_for(job):
        if job.runner.kind == "local":
            from agiqa.runner.local import run_local

            return run_local(job)
        if job.runner.kind == "ray-data":
            from agiqa.runner.ray_data.driver import run_on_ray_data

            return run_on_ray_data(job)
        from agiqa.runner.ray.driver import run_on_ray

        return run_on_ray(job)
