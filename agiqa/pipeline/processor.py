"""The contract between shard I/O (storage, orchestration) and the scoring work on rows.

Shard runners stream record batches from an input shard and hand each to a `BatchProcessor`
in two steps, so CPU work on the next batch can overlap the engine on the current one:

- `prepare(batch)` runs on a background thread: decode images, clean prompts, mark bad rows.
  It must not touch the engine. It never raises for bad rows; it records them.
- `process(prepared)` runs the engine and heads and returns the output columns for exactly the
  rows of the batch, in order: per aspect `<aspect>_score` (float32), `<aspect>_rating`,
  `<aspect>_description` (strings), then `status` ('ok'/'error') and `error` (string or null).

If `process` raises, the batch (and so the shard) failed as a whole: the engine is broken, not
the rows. Shard runners join the output columns to the input columns (minus the image bytes).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import pyarrow as pa


@runtime_checkable
class BatchProcessor(Protocol):
    #: Input columns the processor reads (a shard missing one of these is a failed shard).
    required_columns: tuple[str, ...]
    #: Input column with encoded image bytes; dropped from the output.
    image_column: str

    def prepare(self, batch: pa.RecordBatch) -> Any: ...

    def process(self, prepared: Any) -> pa.RecordBatch: ...

    def output_schema(self) -> pa.Schema:
        """Schema of the batches `process` returns (used to write empty shards)."""
        ...


def output_fields(aspects: tuple[str, ...] | list[str]) -> list[pa.Field]:
    """Output columns every processor produces, in order."""
    fields: list[pa.Field] = []
    for a in aspects:
        fields += [
            pa.field(f"{a}_score", pa.float32()),
            pa.field(f"{a}_rating", pa.string()),
            pa.field(f"{a}_description", pa.string()),
        ]
    fields += [pa.field("status", pa.string()), pa.field("error", pa.string())]
    return fields
