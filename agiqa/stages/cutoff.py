"""The map halves of a top-fraction cutoff (`agiqa.selection.CutoffSearch`) as partial stages.

Per input shard, `HistogramStage` writes the counts of the next 16 key bits inside the search's
current bucket (only non-zero bins: at most 65,536 rows), and `BucketStage` the rows inside the
final bucket. Counts sum exactly across shards, so the merged result is the cutoff the one-process
search finds, whatever the sharding or the number of processes. Each is a runner pass: spread over
the actors, retried, resumed; the reduce that merges them reads only these small tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from agiqa.resources import Resources
from agiqa.selection import CutoffSearch

#: Rows per batch read by a cutoff pass: a few columns of numbers, so large batches.
READ_BATCH_ROWS = 65536


@dataclass(frozen=True)
class RankedRows:
    """Which rows a rule ranks: not those the scorer failed on (`status` = error), and, on a column
    mixing two methods' scores, only the chosen method's (`<column>_source`)."""

    status_column: str | None = None
    source_column: str | None = None
    source: str | None = None

    @property
    def columns(self) -> list[str]:
        return [c for c in (self.status_column, self.source_column if self.source else None) if c]

    def __call__(self, t: pa.Table) -> pa.Table:
        if self.status_column:
            t = t.filter(pc.invert(pc.fill_null(pc.equal(t.column(self.status_column), "error"), False)))
        if self.source:
            t = t.filter(pc.fill_null(pc.equal(t.column(self.source_column), self.source), False))
        return t

    def identity(self) -> dict:
        return {"status_column": self.status_column, "source_column": self.source_column, "source": self.source}


class _CutoffPartial:
    """What both passes share: the columns read, the identity (the search's state), no settings."""

    kind = ""

    def __init__(self, search: CutoffSearch, rows: RankedRows, resources: Resources | None = None):
        self.search, self.rows = search, rows
        self.name = f"cutoff-{self.kind}"
        self.read_columns = tuple(dict.fromkeys([search.column, search.id_column, *rows.columns]))
        self.required_columns = self.read_columns
        self.read_batch_rows = READ_BATCH_ROWS
        self.resources = resources or Resources(num_cpus=1.0)

    def identity(self) -> dict:
        """What the partial depends on: the rows ranked and which bits are counted where, not the
        fraction (a first-level histogram serves any fraction: trying 10%, then 20%, reuses it)."""
        s = self.search
        return {"kind": self.kind, "column": s.column, "id_column": s.id_column, "descending": s.descending,
                "levels": s.levels, "prefix": s.prefix, "shift": s.shift, "rows": self.rows.identity()}

    def settings_of(self, identity: dict) -> dict:
        """Nothing here is a user's choice to protect: another state only redoes the partials."""
        return {}

    def setup(self) -> None: ...

    def teardown(self) -> None: ...

    def process(self, prepared):
        return prepared

    def _table(self, batch: pa.RecordBatch) -> pa.Table:
        return self.rows(pa.Table.from_batches([batch]))


class HistogramStage(_CutoffPartial):
    kind = "histogram"

    def __init__(self, search: CutoffSearch, rows: RankedRows, resources: Resources | None = None):
        super().__init__(search, rows, resources)
        # counting needs the values (and what selects the rows), not the ids: string ids are most of the bytes
        self.read_columns = tuple(dict.fromkeys([search.column, *rows.columns]))
        self.required_columns = tuple(dict.fromkeys([*self.read_columns, search.id_column]))

    def prepare(self, batch, side, shard) -> np.ndarray:
        return self.search.histogram(self._table(batch))

    def fold(self, state, part: np.ndarray) -> np.ndarray:
        return part if state is None else state + part

    def finish(self, state) -> pa.Table:
        hist = np.zeros(1, dtype=np.int64) if state is None else state
        bins = np.flatnonzero(hist).astype(np.int32)
        return pa.table({"bin": bins, "count": hist[bins].astype(np.int64)})


class BucketStage(_CutoffPartial):
    kind = "bucket"

    def prepare(self, batch, side, shard) -> pa.Table:
        return self.search.bucket(self._table(batch))

    def fold(self, state, part: pa.Table) -> list:
        return [*(state or []), part] if part.num_rows else (state or [])

    def finish(self, state) -> pa.Table:
        if state:
            return pa.concat_tables(state)
        return pa.table({"k": pa.array([], pa.uint64()), "v": pa.array([], pa.float64()),
                         "id": pa.array([], pa.string())})


def merged_histogram(tables) -> np.ndarray:
    """The sum of every shard's histogram partial."""
    hist = np.zeros(1 << 16, dtype=np.int64)
    for t in tables:
        if t.num_rows:
            np.add.at(hist, t.column("bin").to_numpy(), t.column("count").to_numpy())
    return hist
