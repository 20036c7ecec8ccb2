"""A mergeable quantile sketch for scores on ANY scale: exact while small, then a relative-error sketch.

Why this one: an audit reads shards one by one (and will merge per-shard partials), so its quantile
summary must merge, stay small whatever the row count, and assume nothing about the range: a method
may be unbounded (`ScoreSpec.bounded` false), a column may hold heavy tails or a tight cluster with
outliers. Fixed bins over an assumed 0-5 fail all of these.

- Up to `EXACT_MAX` values the sketch keeps them all: quantiles are numpy's, exactly.
- Beyond, every value goes to a logarithmic bucket (DDSketch, Masson et al. 2019): bucket m > 0 holds
  magnitudes in (TINY*g^(m-1), TINY*g^m] with g = (1+ALPHA)/(1-ALPHA), signed by the value's sign,
  and |x| <= TINY goes to bucket 0. A bucket's representative is within ALPHA*|x| of every value in
  it (TINY for bucket 0). Counts are integers, so a merge is exact and order does not matter: any
  sharding gives the same sketch. Memory grows with the range's log, not with rows: at most
  2*ln(max|x|/TINY)/ln(g) + 1 buckets (about 22,000 for |x| <= 5; a few thousand are typical).

Error bound (stated in the report): the value at any rank is within ALPHA*|value| + TINY of the exact
one, so a quantile, numpy's linear interpolation between the values at two neighbouring ranks, is
within ALPHA*max(|x_lo|, |x_hi|) + TINY of numpy's exact quantile (0.005 at a score of 5).
"""

from __future__ import annotations

import math

import numpy as np

ALPHA = 1e-3
TINY = 1e-9
EXACT_MAX = 2048
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
_EMPTY_KEYS = np.zeros(0, dtype=np.int32)
_EMPTY_COUNTS = np.zeros(0, dtype=np.int64)


def bucket_keys(values: np.ndarray) -> np.ndarray:
    """Signed bucket of each finite value; the keys' order is the values' order (ties within a bucket)."""
    mag = np.abs(values)
    m = np.zeros(len(values), dtype=np.int64)
    big = mag > TINY
    m[big] = np.maximum(1, np.ceil(np.log(mag[big] / TINY) / _LOG_GAMMA))
    return (np.sign(values).astype(np.int64) * m).astype(np.int32)


def bucket_values(keys: np.ndarray) -> np.ndarray:
    """Each bucket's representative: 2*TINY*g^m/(1+g), within ALPHA relative of the bucket's values."""
    m = np.abs(keys).astype(np.float64)
    with np.errstate(over="ignore"):
        rep = 2.0 * np.exp(m * _LOG_GAMMA + math.log(TINY)) / (1.0 + GAMMA)
    return np.where(keys == 0, 0.0, np.sign(keys) * rep)


class QuantileSketch:
    """Finite values only (the caller counts NaN and +-inf apart). `exact`: quantiles are numpy's."""

    __slots__ = ("values", "keys", "counts")

    def __init__(self):
        self.values: list[np.ndarray] | None = []  # exact mode: the values, in arrival chunks
        self.keys, self.counts = _EMPTY_KEYS, _EMPTY_COUNTS

    @property
    def exact(self) -> bool:
        return self.values is not None

    @property
    def n(self) -> int:
        return sum(len(v) for v in self.values) if self.exact else int(self.counts.sum())

    def add(self, values: np.ndarray) -> None:
        if not len(values):
            return
        if self.exact:
            self.values.append(np.asarray(values, dtype=np.float64))
            if self.n > EXACT_MAX:
                everything = np.concatenate(self.values)
                self.values = None
                self._add_buckets(everything)
        else:
            self._add_buckets(np.asarray(values, dtype=np.float64))

    def _add_buckets(self, values: np.ndarray) -> None:
        keys, counts = np.unique(bucket_keys(values), return_counts=True)
        self._merge_buckets(keys, counts.astype(np.int64))

    def _merge_buckets(self, keys: np.ndarray, counts: np.ndarray) -> None:
        both = np.concatenate([self.keys, keys])
        uniq, inv = np.unique(both, return_inverse=True)
        total = np.zeros(len(uniq), dtype=np.int64)
        np.add.at(total, inv, np.concatenate([self.counts, counts]))
        self.keys, self.counts = uniq.astype(np.int32), total

    def merge(self, o: QuantileSketch) -> None:
        if o.exact:
            for v in o.values:
                self.add(v)
            return
        if self.exact:
            mine = np.concatenate(self.values) if self.values else np.zeros(0)
            self.values = None
            if len(mine):
                self._add_buckets(mine)
        self._merge_buckets(o.keys, o.counts)

    def value_at_rank(self, rank: int) -> float:
        """The value at 0-based `rank` in ascending order (exact, or its bucket's representative)."""
        if self.exact:
            return float(np.partition(np.concatenate(self.values), rank)[rank])
        b = int(np.searchsorted(np.cumsum(self.counts), rank, side="right"))
        return float(bucket_values(self.keys[b:b + 1])[0])

    def histogram(self, edges: np.ndarray) -> np.ndarray:
        """Counts per bin of `edges` (values, or bucket representatives, outside go to the end bins)."""
        if self.exact:
            x, w = (np.concatenate(self.values) if self.values else np.zeros(0)), None
        else:
            x, w = bucket_values(self.keys), self.counts
        idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        return np.bincount(idx, weights=w, minlength=len(edges) - 1)

    def error_bound(self) -> str:
        """The quantiles' stated error, in words (for the report)."""
        if self.exact:
            return "exact"
        return f"within {ALPHA:g} x |value| + {TINY:g}"
