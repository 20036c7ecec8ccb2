"""The map half of `agiqa eval`: per scored shard, per aspect, the (predicted, mos) pairs counted and
their moments, as one partial table (`agiqa.evaluation.partial`). As a runner pass it runs on Ray
actors or in process, is retried and resumed; the reduce concatenates the pairs and ranks once.

Labels come from a `<aspect>_mos` column of the scored shard when it has one (the scored value wins,
as the row-wise join had it), else from the `--labels` table joined on the id (`Labels`: read once on
the driver, shipped with the stage; its content digest is part of the identity, so new labels redo
the partials).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from agiqa.evaluation.partial import pairs_of, shard_table
from agiqa.resources import Resources

LAYOUT_VERSION = 1
READ_BATCH_ROWS = 65536


@dataclass
class Labels:
    """id -> `<aspect>_mos` per aspect; on a duplicate id the last row wins (as a dict join had it).
    Ids are compared as strings."""

    ids: pa.Array  # string, reversed: `index_in` finds the first match, i.e. the last row given
    mos: dict  # aspect -> float64 array aligned with `ids`

    @classmethod
    def of(cls, table: pa.Table, id_column: str, aspects: list[str]) -> Labels:
        rev = table.take(pa.array(np.arange(table.num_rows - 1, -1, -1, dtype=np.int64)))
        return cls(rev.column(id_column).cast(pa.string()).combine_chunks(),
                   {a: rev.column(f"{a}_mos").cast(pa.float64()).combine_chunks()
                    for a in aspects if f"{a}_mos" in table.column_names})

    def digest(self) -> str:
        h = hashlib.sha256()
        for arr in (self.ids, *(self.mos[a] for a in sorted(self.mos))):
            h.update(_ipc(arr))
        h.update(",".join(sorted(self.mos)).encode())
        return h.hexdigest()


def _ipc(arr: pa.Array) -> bytes:
    sink = pa.BufferOutputStream()
    table = pa.table({"x": arr})
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


class EvalStage:
    name = "eval"

    def __init__(self, aspects: list[str], read_columns: list[str], id_column: str = "id",
                 labels: Labels | None = None, status_column: str = "status"):
        self.aspects, self.id_column, self.labels, self.status_column = list(aspects), id_column, labels, status_column
        self.read_columns = tuple(read_columns)
        self.required_columns = self.read_columns
        self.read_batch_rows = READ_BATCH_ROWS
        self.resources = Resources(num_cpus=1.0)

    def identity(self) -> dict:
        return {"kind": "eval", "layout": LAYOUT_VERSION, "aspects": self.aspects, "columns": list(self.read_columns),
                "id_column": self.id_column, "labels": self.labels.digest() if self.labels is not None else None}

    def settings_of(self, identity: dict) -> dict:
        """Nothing to protect: other labels or aspects only redo the partials."""
        return {}

    def setup(self) -> None: ...

    def teardown(self) -> None: ...

    def prepare(self, batch: pa.RecordBatch, side, shard) -> tuple[dict, int, int | None]:
        t = pa.Table.from_batches([batch])
        idx = matched = None
        if self.labels is not None:
            idx = pc.index_in(t.column(self.id_column).cast(pa.string()), value_set=self.labels.ids)
            matched = int(pc.sum(pc.is_valid(idx)).as_py() or 0)
        pairs = {}
        for a in self.aspects:
            if f"{a}_mos" in t.column_names:
                mos = t.column(f"{a}_mos")
            elif idx is not None and a in self.labels.mos:
                mos = pc.take(self.labels.mos[a], idx)
            else:
                mos = None
            pairs[a] = pairs_of(t, a, mos, self.status_column)
        return pairs, t.num_rows, matched

    def process(self, prepared):
        return prepared

    def fold(self, state: list | None, part) -> list:
        return [*(state or []), part]

    def finish(self, state: list | None) -> pa.Table:
        parts = state or []
        pairs = {a: (np.concatenate([p[0][a][0] for p in parts]) if parts else np.zeros(0),
                     np.concatenate([p[0][a][1] for p in parts]) if parts else np.zeros(0)) for a in self.aspects}
        matched = sum(p[2] for p in parts) if self.labels is not None else None
        return shard_table(pairs, sum(p[1] for p in parts), matched)
