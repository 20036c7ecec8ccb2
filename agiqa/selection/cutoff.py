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
from dataclasses import asdict, dataclass
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


def top_fraction_cutoff(scan: Callable[[], Iterable[pa.Table]], column: str, id_column: str, fraction: float, *,
                        descending: bool = True, max_rows_in_memory: int = 1_000_000) -> RankCutoff:
    """The cutoff keeping the best `fraction` of every row `scan()` yields (see the module doc).

    `scan()` returns a fresh iterator over the same tables (holding `column` and `id_column`) on
    each call; it is called two to five times.
    """
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"top fraction for {column!r} must be a number in [0, 1], got {fraction!r}")
    if max_rows_in_memory < 1:
        raise ConfigError(f"max_rows_in_memory must be at least 1, got {max_rows_in_memory}")
    shift = 64 - _BITS
    hist = np.zeros(_BINS, dtype=np.int64)
    total = 0
    for table in scan():
        keys, _, _ = _valid_rows(table, column, id_column, descending)
        total += len(keys)
        hist += np.bincount((keys >> np.uint64(shift)).astype(np.int64), minlength=_BINS)
    keep = keep_count(fraction, total)
    base = dict(column=column, fraction=float(fraction), total=total, keep=keep, descending=descending)
    if keep == 0:
        return RankCutoff(value=None, id=None, **base)
    rank, prefix = keep - 1, 0  # rank: 0-based position of the worst kept row inside the bucket
    while True:
        cum = np.cumsum(hist)
        digit = int(np.searchsorted(cum, rank, side="right"))
        rank -= int(cum[digit - 1]) if digit else 0
        prefix = (prefix << _BITS) | digit
        if hist[digit] <= max_rows_in_memory or shift == 0:
            break
        shift -= _BITS
        hist = np.zeros(_BINS, dtype=np.int64)
        for table in scan():
            keys, _, _ = _valid_rows(table, column, id_column, descending)
            inside = keys[(keys >> np.uint64(shift + _BITS)) == np.uint64(prefix)]
            hist += np.bincount(((inside >> np.uint64(shift)) & np.uint64(_BINS - 1)).astype(np.int64),
                                minlength=_BINS)
    got_keys, got_vals, got_ids = [], [], []
    for table in scan():
        keys, vals, ids = _valid_rows(table, column, id_column, descending)
        m = (keys >> np.uint64(shift)) == np.uint64(prefix)
        if m.any():
            got_keys.append(keys[m])
            got_vals.append(vals[m])
            got_ids.append(ids.filter(pa.array(m)))
    bucket = pa.table({"k": np.concatenate(got_keys), "v": np.concatenate(got_vals),
                       "id": pa.concat_arrays(got_ids)})
    if rank >= bucket.num_rows:
        raise DataError("the data changed between scans (the cutoff's bucket shrank); rerun")
    row = bucket.sort_by([("k", "ascending"), ("id", "ascending")]).slice(rank, 1).to_pylist()[0]
    return RankCutoff(value=row["v"], id=row["id"], **base)
