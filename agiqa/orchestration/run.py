"""`run_job(cfg)`: the one entry point the CLI and `jobs/score.py` call."""

from __future__ import annotations


def run_job(cfg):
    """Run the job on Ray (default) or in this process; print the summary; return it."""
    if cfg.ray.runner == "local":
        from agiqa.orchestration.local import run_local

        summary = run_local(cfg)
    else:
        from agiqa.orchestration.ray_driver import run_on_ray

        summary = run_on_ray(cfg)
    print(summary.table(), flush=True)
    return summary
