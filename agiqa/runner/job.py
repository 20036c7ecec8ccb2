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


#: Builds a pass's stage on the driver from the results of the reduce steps before it (by name).
StageFactory = Callable[[dict[str, dict]], ShardStage]


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

    def resolved(self, results: dict[str, dict]) -> Pass:
        """This pass with a concrete stage (the factory, if any, called with the reduce results)."""
        if hasattr(self.stage, "process"):  # a stage already (a factory is a plain callable)
            return self
        return replace(self, stage=self.stage(results), from_reduce=True)


@dataclass
class Reduce:
    """A driver-side step: `fn(ctx)` reads committed shards (through `ctx`, in bounded memory) and
    returns a small JSON-able dict, recorded in the job summary and in `OUTPUT.agiqa/reduce/NAME.json` (the state root).
    It is recomputed on every run (deterministic, cheap next to a pass), so the passes after it
    always see the result for the data as it is now."""

    name: str
    fn: Callable[..., dict]  # (agiqa.runner.reduce.ReduceContext) -> dict


@dataclass
class ShardJob:
    passes: list[Pass | Reduce]  # steps, in order (the name is kept from when there were only passes)
    storage: Any = None  # agiqa.storage.config.StorageConfig (None: defaults)
    runner: Literal["ray", "ray-data", "local"] = "ray"
    address: str | None = None
    read_batch_rows: int = 64
    overwrite: bool = False
    max_shard_attempts: int = 3
    shards_in_flight_per_actor: int = 2
    max_batches_in_flight: int = 4  # per actor (or local process), across its shards
    prepare_workers: int | None = None  # None: from each stage's resources (`runner.stream.prepare_workers`)
    progress: bool = True
    #: How stores are opened (a test passes one that injects faults); called on the driver and actors.
    open_store: Callable = field(default=_open_store)

    @property
    def output(self) -> str:
        """Where the job's result and summary go: the last pass's output root."""
        return [p for p in self.passes if isinstance(p, Pass)][-1].output
