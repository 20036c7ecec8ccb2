"""The exact global top-fraction cutoff: which rows are "the best 20% of the whole dataset".

Order: best value first (highest when `descending`, lowest otherwise); among rows tied on the
value, ascending id first. The first `keep` rows of that order are kept, so the kept set is the
same whatever the shard sizes and their order, and one `RankCutoff` (the worst kept value and id)
decides any row on its own. Rows whose value is null or NaN are never ranked, never kept and not
counted in `total`.

Rounding: `keep = ceil(fraction * total)`, computed exactly on the shortest decimal that prints
`fraction` (so 0.7 of 10 keeps 7, not 8 from float error): never fewer than asked, and any
positive fraction of a non-empty dataset keeps at least one row. 0 keeps none, 1 keeps all.

Memory: rows are ranked on order-preserving 64-bit keys (`agiqa.selection.keys`), refined 16 bits
per scan: a scan counts a 65,536-bin histogram of the next 16 bits inside the bucket that holds
the cutoff, until that bucket holds at most `max_rows_in_memory` rows (or the whole key is known,
i.e. every row left is tied at the cutoff value); a last scan collects that bucket and sorts it.
At most five scans, usually two; memory is the histogram plus the collected bucket.
Ids are expected unique; duplicate ids tied at exactly the cutoff are kept or dropped together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from agiqa.errors import ConfigError, DataError
from agiqa.selection.keys import numeric_values, to_keys

_BITS = 16
_BINS = 1 << _BITS


def keep_count(fraction: float, total: int) -> int:
    """How many rows of `total` the fraction keeps: ceil(fraction * total), exact on the decimal."""
    return math.ceil(Fraction(repr(float(fraction))) * total)


@dataclass(frozen=True)
class RankCutoff:
    column: str
    fraction: float
    total: int  # rows with a non-null, non-NaN value
    keep: int  # how many rows the cutoff keeps
    value: float | int | None  # the worst kept value (None: nothing kept)
    id: Any  # the id of the worst kept row; rows tied at `value` are kept in ascending id order up to it
    descending: bool = True  # True: higher is better

    def keeps(self, values, ids) -> np.ndarray:
        """Vectorised: which of these rows the cutoff keeps (null/NaN never)."""
        vals, valid = numeric_values(values, self.column)
        if self.value is None or self.keep == 0:
            return np.zeros(len(vals), dtype=bool)
        cut = np.asarray([self.value])
        if vals.dtype.kind != cut.dtype.kind:
            vals, cut = vals.astype(np.float64), cut.astype(np.float64)
        keys, ck = to_keys(vals, self.descending), to_keys(cut, self.descending)[0]
        out = valid & (keys < ck)
        tied = valid & (keys == ck)
        if tied.any():
            ids = _as_arrow(ids)
            at = np.flatnonzero(tied)
            le = pc.fill_null(pc.less_equal(ids.take(pa.array(at)), pa.scalar(self.id, ids.type)), False)
            out[at] = le.to_numpy(zero_copy_only=False)
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RankCutoff:
        return cls(**d)


def _as_arrow(arr) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        return arr.combine_chunks()
    if isinstance(arr, pa.Array):
        return arr
    return pa.array(list(arr) if not isinstance(arr, np.ndarray) else arr)


def _valid_rows(table, column: str, id_column: str, descending: bool):
    """(keys, values, ids) of a batch's rankable rows."""
    for name in (column, id_column):
        if name not in table.column_names:
            raise DataError(f"column {name!r} is missing (columns: {', '.join(table.column_names)})")
    vals, valid = numeric_values(table.column(column), column)
    ids = _as_arrow(table.column(id_column))
    if not valid.all():
        vals, ids = vals[valid], ids.filter(pa.array(valid))
    if ids.null_count:
        raise DataError(f"id column {id_column!r} has nulls in ranked rows: ties could not be broken")
    return to_keys(vals, descending), vals, ids


@dataclass(frozen=True)
class CutoffSearch:
    """Where the search for one cutoff stands, as plain JSON-able fields, so the counting can be
    spread: any process computes a batch's `histogram` (or `bucket`) from this state, the partials
    are summed (counts merge exactly), and `after_histogram` / `result` move the search on.

    The steps (the module doc): histograms of 16 key bits at a time inside the bucket holding the
    cutoff, until that bucket is small (or the whole key is known), then the bucket's rows, sorted.
    """

    column: str
    id_column: str
    fraction: float
    descending: bool = True
    max_rows_in_memory: int = 1_000_000
    total: int | None = None  # rows ranked (known once the first histogram is merged)
    keep: int | None = None
    rank: int = 0  # 0-based position of the worst kept row inside the current bucket
    prefix: int = 0  # the key bits above `shift` known so far (levels * 16 of them)
    shift: int = 64 - _BITS  # the next histogram counts key bits [shift, shift + 16)
    levels: int = 0  # histograms merged so far
    counted: bool = False  # True: no more histograms; the bucket (`prefix` at `shift`) is collected next

    def __post_init__(self):
        f = self.fraction
        if not isinstance(f, (int, float)) or isinstance(f, bool) or not 0.0 <= f <= 1.0:
            raise ConfigError(f"top fraction for {self.column!r} must be a number in [0, 1], got {f!r}")
        if self.max_rows_in_memory < 1:
            raise ConfigError(f"max_rows_in_memory must be at least 1, got {self.max_rows_in_memory}")

    @property
    def needs_histogram(self) -> bool:
        return not self.counted

    @property
    def needs_bucket(self) -> bool:
        """True when the bucket's rows are the last thing to read (nothing kept: no bucket at all)."""
        return self.counted and bool(self.keep)

    def histogram(self, table) -> np.ndarray:
        """One batch's counts (65,536 bins) of the next 16 key bits, inside the current bucket. Needs only
        the value column (ids break ties in the bucket, read last)."""
        if self.column not in table.column_names:
            raise DataError(f"column {self.column!r} is missing (columns: {', '.join(table.column_names)})")
        vals, valid = numeric_values(table.column(self.column), self.column)
        keys = to_keys(vals[valid] if not valid.all() else vals, self.descending)
        if self.levels:
            keys = keys[(keys >> np.uint64(self.shift + _BITS)) == np.uint64(self.prefix)]
        digits = (keys >> np.uint64(self.shift)) & np.uint64(_BINS - 1)
        return np.bincount(digits.astype(np.int64), minlength=_BINS)

    def after_histogram(self, hist: np.ndarray) -> CutoffSearch:
        """The state once the histogram of every ranked row (summed over all batches) is known."""
        state = self
        if not self.levels:
            total = int(hist.sum())
            keep = keep_count(self.fraction, total)
            state = replace(self, total=total, keep=keep, rank=keep - 1)
            if keep == 0:
                return replace(state, counted=True)
        cum = np.cumsum(hist)
        digit = int(np.searchsorted(cum, state.rank, side="right"))
        rank = state.rank - (int(cum[digit - 1]) if digit else 0)
        prefix = (state.prefix << _BITS) | digit
        done = int(hist[digit]) <= self.max_rows_in_memory or state.shift == 0
        return replace(state, rank=rank, prefix=prefix, levels=state.levels + 1, counted=done,
                       shift=state.shift if done else state.shift - _BITS)

    def bucket(self, table) -> pa.Table:
        """One batch's rows inside the final bucket: key `k`, value `v`, `id`."""
        keys, vals, ids = _valid_rows(table, self.column, self.id_column, self.descending)
        m = (keys >> np.uint64(self.shift)) == np.uint64(self.prefix)
        return pa.table({"k": keys[m], "v": vals[m], "id": ids.filter(pa.array(m))})

    def result(self, bucket: pa.Table | None = None) -> RankCutoff:
        """The cutoff: from the whole bucket (every batch's `bucket` rows together)."""
        base = dict(column=self.column, fraction=float(self.fraction), total=self.total or 0, keep=self.keep or 0,
                    descending=self.descending)
        if not self.keep:
            return RankCutoff(value=None, id=None, **base)
        if bucket is None or self.rank >= bucket.num_rows:
            raise DataError("the data changed between scans (the cutoff's bucket shrank); rerun")
        row = bucket.sort_by([("k", "ascending"), ("id", "ascending")]).slice(self.rank, 1).to_pylist()[0]
        return RankCutoff(value=row["v"], id=row["id"], **base)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CutoffSearch:
        return cls(**d)


def top_fraction_cutoff(scan: Callable[[], Iterable[pa.Table]], column: str, id_column: str, fraction: float, *,
                        descending: bool = True, max_rows_in_memory: int = 1_000_000) -> RankCutoff:
    """The cutoff keeping the best `fraction` of every row `scan()` yields (see the module doc), in
    this process. (`agiqa.stages.cutoff` runs the same search as runner passes over many processes.)

    `scan()` returns a fresh iterator over the same tables (holding `column` and `id_column`) on
    each call; it is called two to five times.
    """
    search = CutoffSearch(column, id_column, fraction, descending, max_rows_in_memory)
    while search.needs_histogram:
        hist = np.zeros(_BINS, dtype=np.int64)
        for table in scan():
            hist += search.histogram(table)
        search = search.after_histogram(hist)
    if not search.needs_bucket:
        return search.result()
    parts = [search.bucket(t) for t in scan()]
    return search.result(concat_buckets(parts))


def concat_buckets(parts: list[pa.Table]) -> pa.Table | None:
    """The bucket's rows from every batch (or shard) in one table (None: no rows anywhere)."""
    parts = [p for p in parts if p.num_rows]
    return pa.concat_tables(parts) if parts else None
