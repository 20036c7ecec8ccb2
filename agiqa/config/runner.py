"""Where shards run (Ray or this process), how often a shard is tried, and what each stage's actors get."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agiqa.schema import StrictModel


def default_runner_kind() -> str:
    """'ray' where Ray is installed, else 'local': the light install's filter runs without asking."""
    from agiqa.extras import missing_modules

    return "local" if missing_modules(("ray",)) else "ray"


class RunnerConfig(StrictModel):
    kind: Literal["ray", "ray-data", "local"] = Field(
        default_factory=default_runner_kind,
        description="'ray' (agiqa's actor pool), 'ray-data' (a Ray Data actor pool, one shard per row) or 'local' "
                    "(one process, no Ray). Default: 'ray' where Ray is installed, else 'local'. docs/ray.md compares them.")
    address: str | None = Field(None, description="Ray cluster address; default RAY_ADDRESS, else a local Ray.")
    shards_in_flight_per_actor: int = Field(2, ge=1, le=64, description="Ray: shards queued per actor.")
    max_shard_attempts: int = Field(3, ge=1, le=100, description="A shard failing this often is reported failed.")
    max_batches_in_flight: int = Field(
        4, ge=1, le=256, description="Read batches submitted to a stage and not yet finished, per actor (or the local "
                                     "process), across its shards. A method whose `score` is a coroutine runs them at "
                                     "once and they may finish in any order; outputs are written in input order.")
    prepare_workers: int | None = Field(
        None, ge=1, le=256, description="Threads decoding and preprocessing rows per actor (or the local process). "
                                        "Default: the stage's whole CPUs per actor (`resources.<stage>.num_cpus`).")


class ResourcesConfig(StrictModel):
    """Overrides of a stage's declared resources (unset: the method's default)."""

    num_actors: int | None = Field(
        None, ge=1, description="Actors for the stage. Default: one per GPU share in the cluster, or 1 without GPUs."
    )
    num_gpus: float | None = Field(None, ge=0, description="GPUs per actor (fractions allowed; 0 on CPU).")
    num_cpus: float | None = Field(None, ge=0, description="CPUs reserved per actor.")
