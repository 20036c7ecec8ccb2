"""Mergeable statistics of one group: what an audit needs, in memory independent of the rows.

Per aspect: a quantile sketch (`agiqa.audit.sketch`: exact up to 2,048 values, then logarithmic
buckets within 0.1% of each value, on any range: nothing assumes 0-5), exact count, mean and
variance (Chan et al.'s pairwise merge of count/mean/M2, so shard order does not matter beyond
float rounding), exact min/max, the count of non-finite scores (NaN, +-inf: counted, kept out of
every statistic, since one inf would make the mean meaningless), rating-word counts, and the best
and worst `k` rows (bounded heaps; ties by id). Per group: rows, status counts, error reasons.
Quantiles follow numpy's default (linear interpolation between the values at the two nearest
ranks), each value read from the sketch and clamped to [min, max]: exact for small groups, else
within ALPHA*|value| + TINY of the exact quantile (`QuantileSketch.error_bound`). Their 95% interval
is the distribution-free order-statistic interval (ranks n*q -/+ 1.96*sqrt(n*q*(1-q))), read the same way.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from agiqa.audit.sketch import QuantileSketch

Z95 = 1.959963984540054
MAX_REASONS = 200  # distinct error reasons kept per group; the rest are counted under "(other)"


@dataclass
class Example:
    """A row shown in the report (its image is fetched later, for shown rows only)."""

    score: float
    id: str
    shard: str
    prompt: str | None
    scores: dict
    descriptions: dict

    def __lt__(self, other) -> bool:  # heap entries with equal keys (duplicate ids) never compare examples
        return False


@dataclass
class AspectStats:
    sketch: QuantileSketch = field(default_factory=QuantileSketch)
    n: int = 0
    nonfinite: int = 0  # NaN or +-inf scores: counted, in no other statistic
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    ratings: Counter = field(default_factory=Counter)
    worst: list = field(default_factory=list)  # max-heap by (score, id) via negation: the k lowest
    best: list = field(default_factory=list)  # min-heap: the k highest

    def add(self, values: np.ndarray) -> None:
        """Add non-null scores (float64); NaN and +-inf are only counted (`nonfinite`)."""
        finite = np.isfinite(values)
        self.nonfinite += int((~finite).sum())
        values = values[finite]
        if not len(values):
            return
        self.sketch.add(values)
        other = AspectStats(n=len(values), mean=float(values.mean()),
                            m2=float(((values - values.mean()) ** 2).sum()),
                            min=float(values.min()), max=float(values.max()))
        self._merge_moments(other)

    def _merge_moments(self, o: AspectStats) -> None:
        if o.n == 0:
            return
        n = self.n + o.n
        delta = o.mean - self.mean
        self.mean += delta * o.n / n
        self.m2 += o.m2 + delta * delta * self.n * o.n / n
        self.n = n
        self.min, self.max = min(self.min, o.min), max(self.max, o.max)

    def offer(self, ex: Example, k: int) -> None:
        """Keep `ex` if it is among the k worst or k best seen (ties: lower id first in both lists)."""
        worst_key = (-ex.score, _Rev(ex.id))
        if len(self.worst) < k:
            heapq.heappush(self.worst, (worst_key, ex))
        elif worst_key > self.worst[0][0]:
            heapq.heapreplace(self.worst, (worst_key, ex))
        best_key = (ex.score, _Rev(ex.id))
        if len(self.best) < k:
            heapq.heappush(self.best, (best_key, ex))
        elif best_key > self.best[0][0]:
            heapq.heapreplace(self.best, (best_key, ex))

    def merge(self, o: AspectStats, k: int) -> None:
        self.sketch.merge(o.sketch)
        self.nonfinite += o.nonfinite
        self._merge_moments(o)
        self.ratings.update(o.ratings)
        for ex in {id(e): e for _, e in o.worst + o.best}.values():
            self.offer(ex, k)

    def worst_examples(self) -> list[Example]:
        return sorted({id(e): e for _, e in self.worst}.values(), key=lambda e: (e.score, e.id))

    def best_examples(self) -> list[Example]:
        return sorted({id(e): e for _, e in self.best}.values(), key=lambda e: (-e.score, e.id))

    @property
    def sd(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0

    def mean_ci(self) -> tuple[float, float] | None:
        """95% interval of the mean (normal approximation); None below two rows."""
        if self.n < 2:
            return None
        half = Z95 * self.sd / math.sqrt(self.n)
        return self.mean - half, self.mean + half

    def value_at_rank(self, rank: int) -> float:
        """The value at 0-based `rank`: from the sketch (exact or within its bound), clamped to [min, max]."""
        return float(min(max(self.sketch.value_at_rank(rank), self.min), self.max))

    def quantile_at_rank(self, rank: float) -> float:
        """Linear interpolation between the values at the ranks around `rank` (numpy's default quantile)."""
        rank = min(max(rank, 0.0), self.n - 1)
        lo, hi = math.floor(rank), math.ceil(rank)
        a = self.value_at_rank(lo)
        return a if hi == lo else a + (self.value_at_rank(hi) - a) * (rank - lo)

    def quantile(self, q: float) -> float | None:
        return None if self.n == 0 else self.quantile_at_rank(q * (self.n - 1))

    def quantile_ci(self, q: float) -> tuple[float, float] | None:
        if self.n < 2:
            return None
        half = Z95 * math.sqrt(self.n * q * (1 - q))
        return self.quantile_at_rank(q * (self.n - 1) - half), self.quantile_at_rank(q * (self.n - 1) + half)


class _Rev:
    """Reverses string order inside a heap key, so that among tied scores the lowest id is kept."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __lt__(self, o):
        return self.v > o.v

    def __gt__(self, o):
        return self.v < o.v

    def __eq__(self, o):
        return self.v == o.v


@dataclass
class GroupStats:
    rows: int = 0
    statuses: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    aspects: dict = field(default_factory=dict)  # aspect -> AspectStats

    def aspect(self, a: str) -> AspectStats:
        if a not in self.aspects:
            self.aspects[a] = AspectStats()
        return self.aspects[a]

    @property
    def errors(self) -> int:
        return self.statuses.get("error", 0)

    def error_rate_ci(self) -> tuple[float, float] | None:
        """Wilson 95% interval of the error rate; None without rows."""
        if not self.rows:
            return None
        p, n, z = self.errors / self.rows, self.rows, Z95
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)

    def add_reasons(self, reasons) -> None:
        for r, c in reasons.items():
            if r in self.reasons or len(self.reasons) < MAX_REASONS:
                self.reasons[r] += c
            else:
                self.reasons["(other)"] += c

    def merge(self, o: GroupStats, k: int) -> None:
        self.rows += o.rows
        self.statuses.update(o.statuses)
        self.add_reasons(o.reasons)
        for a, s in o.aspects.items():
            self.aspect(a).merge(s, k)
