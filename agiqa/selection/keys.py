"""Order-preserving unsigned 64-bit keys for numeric columns.

Ranking on integer keys instead of floats makes the cutoff search a radix refinement over bits,
which always terminates and is exact (no float bin edges collapsing), and makes -0.0 and 0.0 the
same value. Smaller key = better row once `descending` is applied.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from agiqa.errors import DataError

_SIGN = np.uint64(1 << 63)


def numeric_values(arr, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(values as float64 or int64, valid mask) for a pyarrow/numpy/list column; null and NaN are invalid."""
    if not isinstance(arr, (pa.Array, pa.ChunkedArray)):
        arr = pa.array(np.asarray(arr) if not isinstance(arr, list) else arr, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    t = arr.type
    if pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_null(t):
        vals = pc.fill_null(arr.cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False)
        vals = np.asarray(vals, dtype=np.float64) + 0.0  # -0.0 -> 0.0
        return vals, ~np.isnan(vals)
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
        vals = pc.fill_null(arr.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
        return np.asarray(vals, dtype=np.int64), np.asarray(valid, dtype=bool)
    raise DataError(f"column {column!r} is {t}, not a number: it cannot be ranked")


def to_keys(vals: np.ndarray, descending: bool) -> np.ndarray:
    """uint64 keys whose ascending order is best-first (ties equal)."""
    if vals.dtype.kind == "f":
        bits = np.ascontiguousarray(vals, dtype=np.float64).view(np.uint64)
        keys = np.where(bits >> np.uint64(63) == 1, ~bits, bits | _SIGN)
    else:
        keys = np.ascontiguousarray(vals, dtype=np.int64).view(np.uint64) ^ _SIGN
    return ~keys if descending else keys
