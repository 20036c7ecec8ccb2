"""Where shards run (Ray or this process), how often a shard is tried, and what each stage's actors get."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

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
    rank: int = Field(0, ge=0, description="This driver's rank among `world_size` drivers over one dataset: it runs "
                                           "the shards whose name hashes to it (`agiqa.runner.ranks`; docs/ranks.md). "
                                           "CLI --rank, else the environment's AGIQA_RANK.")
    world_size: int = Field(1, ge=1, le=100_000, description="How many drivers (ranks) split the job's shards; 1: one "
                                                             "driver does all. CLI --world-size, else AGIQA_WORLD_SIZE.")
    rank_wait_s: float = Field(3600.0, gt=0, description="With world_size > 1: how long a rank waits, before a reduce "
                                                         "step, for the other ranks to commit their shards of the "
                                                         "passes before it (then a one-line error).")

    def settings(self):
        """What the runner takes (`agiqa.runner.job.RunSettings`): every field but none copied by hand."""
        from agiqa.runner.job import RunSettings

        return RunSettings(**{k: getattr(self, k) for k in RunSettings.__dataclass_fields__ if k in type(self).model_fields})

    actor_start_timeout_s: float = Field(1800.0, gt=0, description="Ray: how long a pass's actors may take to start "
                                                                 "(the model's load included) before the job stops.")

    @model_validator(mode="after")
    def _rank_in_world(self) -> RunnerConfig:
        if self.rank >= self.world_size:
            raise ValueError(f"rank {self.rank} is not below world_size {self.world_size} (ranks are 0..world_size-1)")
        return self


class ResourcesConfig(StrictModel):
    """Overrides of a stage's declared resources (unset: the method's default)."""

    num_actors: int | None = Field(
        None, ge=1, description="Actors for the stage. Default: one per GPU share in the cluster, or 1 without GPUs."
    )
    num_gpus: float | None = Field(None, ge=0, description="GPUs per actor (fractions allowed; 0 on CPU).")
    num_cpus: float | None = Field(None, ge=0, description="CPUs reserved per actor.")
