"""A job as the runner sees it: passes of stages over shards, plus where and how to run them.

A pass runs one stage over every input shard, on its own actor pool, before the next pass starts
(a cascade's cheap prefilter, then the MLLM reading the prefilter's output as a side input).
Built by the job kinds (`agiqa.workflows`); the runner never reads a user's config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from agiqa.runner.stage import ShardStage


def _open_store(uri: str, storage_cfg):
    from agiqa.storage import open_store

    return open_store(uri, storage_cfg)


@dataclass
class Pass:
    stage: ShardStage
    input: str
    output: str
    #: A root of shards with the input's relative names and rows, read alongside (or None).
    side_input: str | None = None


@dataclass
class ShardJob:
    passes: list[Pass]
    storage: Any = None  # agiqa.storage.config.StorageConfig (None: defaults)
    runner: Literal["ray", "local"] = "ray"
    address: str | None = None
    read_batch_rows: int = 64
    overwrite: bool = False
    max_shard_attempts: int = 3
    shards_in_flight_per_actor: int = 2
    progress: bool = True
    #: How stores are opened (a test passes one that injects faults); called on the driver and actors.
    open_store: Callable = field(default=_open_store)

    @property
    def output(self) -> str:
        """Where the job's result and summary go: the last pass's output root."""
        return self.passes[-1].output
