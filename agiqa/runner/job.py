"""A job as the runner sees it: steps over shards, plus where and how to run them.

Two kinds of step, run in order:
- a `Pass` runs one stage over every input shard, on its own actor pool, before the next step
  starts (a cascade's cheap prefilter, then the MLLM reading the prefilter's output as a side input);
- a `Reduce` runs on the driver between passes and turns committed shards into a small result (a
  global threshold, a top-fraction cutoff) that the passes after it are built from: map, reduce, apply.
Built by the job kinds (`agiqa.workflows`); the runner never reads a user's config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from agiqa.runner.stage import ShardStage


def _open_store(uri: str, storage_cfg):
    from agiqa.storage import open_store

    return open_store(uri, storage_cfg)


#: Builds a pass's stage on the driver from the results of the reduce steps before it (by name);
#: None when those results make the pass unneeded (a cutoff search that already converged): skipped.
StageFactory = Callable[[dict[str, dict]], "ShardStage | None"]


@dataclass
class Pass:
    #: The stage, or a factory called when the pass starts (after the reduce steps before it), so a
    #: globally computed value becomes part of the stage and of its identity: a rerun with another
    #: result recomputes the pass instead of reusing its outputs.
    stage: ShardStage | StageFactory
    input: str
    output: str
    #: A root of shards with the input's relative names and rows, read alongside (or None).
    side_input: str | None = None
    #: True once the stage was built from reduce results: part of its identity is derived, not chosen.
    from_reduce: bool = False
    #: Rows per read batch for this pass (None: the job's `read_batch_rows`; a stage may set its own).
    read_batch_rows: int | None = None

    def resolved(self, results: dict[str, dict]) -> Pass | None:
        """This pass with a concrete stage (the factory, if any, called with the reduce results), or
        None when the factory says the pass is not needed."""
        if hasattr(self.stage, "process"):  # a stage already (a factory is a plain callable)
            return self
        stage = self.stage(results)
        return None if stage is None else replace(self, stage=stage, from_reduce=True)


@dataclass
class Reduce:
    """A driver-side step: `fn(ctx)` reads committed shards (through `ctx`, in bounded memory) and
    returns a small JSON-able dict, recorded in the job summary and in `OUTPUT.agiqa/reduce/NAME.json` (the state root).
    It is recomputed on every run (deterministic, cheap next to a pass), so the passes after it
    always see the result for the data as it is now."""

    name: str
    fn: Callable[..., dict]  # (agiqa.runner.reduce.ReduceContext) -> dict
    #: A step inside a larger reduce (a cutoff search's level): its result feeds the steps after it and
    #: is kept in `reduce/NAME.json`, but the summary shows only the results a user reads.
    internal: bool = False


@dataclass(frozen=True)
class RunSettings:
    """Where and how a job's shards run, as the runner takes them: a user's `runner:` section
    (`agiqa.config.RunnerConfig.settings()`) turned into plain values, so the runner never reads a
    user config and every job kind hands its runner settings over in one piece."""

    kind: Literal["ray", "ray-data", "local"] = "ray"
    address: str | None = None
    max_shard_attempts: int = 3
    shards_in_flight_per_actor: int = 2
    max_batches_in_flight: int = 4  # per actor (or local process), across its shards
    prepare_workers: int | None = None  # None: from each stage's resources (`runner.stream.prepare_workers`)
    #: Many drivers over one dataset (`agiqa.runner.ranks`): this one runs the shards of `rank` of
    #: `world_size`, and waits up to `rank_wait_s` before a reduce step for the other ranks' shards.
    rank: int = 0
    world_size: int = 1
    rank_wait_s: float = 3600.0
    #: How long a pass's actors may take to start (model load included) before the job stops, in one line.
    actor_start_timeout_s: float = 1800.0


@dataclass
class ShardJob:
    passes: list[Pass | Reduce]  # steps, in order (the name is kept from when there were only passes)
    storage: Any = None  # agiqa.storage.config.StorageConfig (None: defaults)
    #: Where and how shards run; a kind's name ("local", "ray") for the defaults of everything else.
    runner: RunSettings | str = "ray"
    read_batch_rows: int = 64
    overwrite: bool = False
    progress: bool = True
    #: How stores are opened (a test passes one that injects faults); called on the driver and actors.
    open_store: Callable = field(default=_open_store)

    def __post_init__(self):
        if isinstance(self.runner, str):
            self.runner = RunSettings(kind=self.runner)

    @property
    def output(self) -> str:
        """Where the job's result and summary go: the last pass's output root."""
        return [p for p in self.passes if isinstance(p, Pass)][-1].output


def _forward(name: str) -> property:
    return property(lambda job: getattr(job.runner, name), doc=f"`runner.{name}` (`RunSettings`).")


# The runner reads its settings off the job (`job.max_shard_attempts`): one place holds them.
for _name in RunSettings.__dataclass_fields__:
    if _name != "kind":
        setattr(ShardJob, _name, _forward(_name))
