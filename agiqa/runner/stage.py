"""What the runner needs from a stage: nothing about models, everything about rows and outputs.

A stage turns each record batch of an input shard into output columns for exactly those rows,
one of them `status` (a name: `ok`, `error`, and whatever later stages add, such as
`prefiltered`, `kept`, `dropped`). The runner joins them to the input columns (minus those the
stage drops, e.g. image bytes), writes each of the stage's outputs, counts rows by status, and
commits. `prepare` runs on a pool of threads (decode, clean; several batches at once); `process` on
the engine thread, as a plain function or a coroutine (then up to `max_batches_in_flight` batches
run at once and may finish in any order: the runner writes them in input order). See `runner.stream`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow as pa

    from agiqa.resources import Resources
    from agiqa.storage.base import ShardInfo

STATUS = "status"


@dataclass(frozen=True)
class ShardOutput:
    """One file a stage writes per input shard: `<output root>/<folder>/<shard's relative name>`."""

    name: str = "scored"
    folder: str = ""  # "" = the output root itself
    statuses: tuple[str, ...] | None = None  # write only rows with these statuses (None: every row)
    drop_columns: tuple[str, ...] = ()  # columns of the joined rows left out of this file
    #: (the joined columns this file keeps, in order) -> (joined name, name in the file) pairs, in the
    #: file's order: a stage whose file has a layout of its own (ingest: `id, image, prompt, extras`
    #: from work-list columns). A module-level function (it travels to Ray actors). None: as joined.
    columns: Callable[[list[str]], list[tuple[str, str]]] | None = None


@dataclass(frozen=True)
class AddedColumn:
    """A column computed from a shard's rows as they are read (a synthesised row id, an image's path)."""

    field: pa.Field
    #: (batch, shard's relative name, index of the batch's first row in the shard) -> the column.
    compute: Callable[[pa.RecordBatch, str, int], pa.Array]


@runtime_checkable
class ShardStage(Protocol):
    name: str
    resources: Resources
    #: Input columns the stage reads; a shard without one of them is a failed shard.
    required_columns: tuple[str, ...]
    #: Input columns never copied to any output (image bytes, for a score stage).
    drop_columns: tuple[str, ...]
    #: Files written per input shard; each is committed atomically, the manifest lists them all.
    outputs: tuple[ShardOutput, ...]

    def identity(self) -> dict:
        """Everything that changes this stage's outputs (weights' digests, settings); JSON-able."""
        ...

    # Optional: `counted_columns: tuple[str, ...]`: output columns whose values the runner counts per
    # shard into the report and manifest (`counts`), for reduces that then read manifests only.

    # Optional: `added_input_columns(schema, rel) -> list[AddedColumn]`: columns the runner adds to
    # every batch it reads from a shard with input schema `schema` (rows numbered from 0 in the
    # shard), before the stage sees them; they are kept in the outputs as input columns are.

    def output_fields(self) -> list[pa.Field]:
        """The columns `process` returns, `status` among them."""
        ...

    def setup(self) -> None: ...

    def prepare(self, batch: pa.RecordBatch, side: pa.RecordBatch | None, shard: ShardInfo | None) -> Any:
        """CPU work on one of the prepare pool's threads (several batches at once: keep it free of shared
        mutable state). `side`: the same rows of the pass's side input, if it has one. `shard`: the input
        shard (e.g. to resolve image paths relative to it); None when rows come from the Python API."""
        ...

    def process(self, prepared: Any) -> pa.RecordBatch | Awaitable[pa.RecordBatch]:
        """One output row per input row, in order; a plain function or a coroutine (run on the engine
        thread's event loop). Raising fails the shard's attempt (not its rows)."""
        ...

    def teardown(self) -> None: ...


@runtime_checkable
class PartialStage(Protocol):
    """The map half of a reduce: one small table per input shard (a histogram, running statistics),
    which a `Reduce` step then merges reading only these tables, never the rows.

    It runs as a pass like any other (on Ray actors or in process, retried, resumed): the runner
    reads `read_columns` of each shard in batches of `read_batch_rows`, calls `prepare` on the
    prepare pool (where the batch's partial is computed), `process` on the engine thread (usually
    the identity), `fold` in input order on the writer thread, and at the shard's end writes
    `finish(state)` as the shard's one output file, committed with a manifest, exactly once.
    `fold(None, part)` starts a shard's state; `finish(None)` is an empty shard's partial.
    """

    name: str
    resources: Resources
    required_columns: tuple[str, ...]
    read_columns: tuple[str, ...]
    read_batch_rows: int

    def identity(self) -> dict: ...

    def setup(self) -> None: ...

    def prepare(self, batch: pa.RecordBatch, side: pa.RecordBatch | None, shard: ShardInfo | None) -> Any: ...

    def process(self, prepared: Any) -> Any: ...

    def fold(self, state: Any, part: Any) -> Any: ...

    def finish(self, state: Any) -> pa.Table: ...

    def teardown(self) -> None: ...


def is_partial(stage) -> bool:
    """True for a `PartialStage` (one table per shard), False for a row stage."""
    return callable(getattr(stage, "fold", None)) and callable(getattr(stage, "finish", None))
