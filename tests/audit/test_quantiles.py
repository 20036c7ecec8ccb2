"""Audit quantiles on any scale, against numpy's exact ones: adversarial distributions, merged from shards.

The bound checked is the one the report states (`agiqa.audit.sketch`): exact up to EXACT_MAX values,
else within ALPHA * max(|x_lo|, |x_hi|) + TINY, x_lo and x_hi being the exact values at the two ranks
numpy's quantile interpolates between. The reference is numpy on the float32 values the column holds.
"""

import math

import numpy as np
import pyarrow as pa
import pytest

from agiqa.audit.collect import AuditSpec, Collected, batch_stats
from agiqa.audit.sketch import ALPHA, EXACT_MAX, TINY
from agiqa.audit.stats import AspectStats

QS = (0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0)


def distributions():
    rng = np.random.default_rng(7)
    n = 60_000
    return {
        "uniform -1..6": rng.uniform(-1, 6, n),
        "cauchy": rng.standard_cauchy(n),
        "lognormal sigma 4": rng.lognormal(0, 4, n),
        "pareto tail": rng.pareto(0.7, n) * 1e3,
        "all equal": np.full(n, 3.7),
        "all zero": np.zeros(n),
        "cluster plus outliers": np.concatenate([rng.normal(2.5, 1e-3, n), [-1e6, -5e4, 1e5, 7e6] * 5]),
        "negative only": -rng.exponential(2.0, n),
        "around zero": rng.normal(0, 1e-6, n),
        "two spikes": np.concatenate([np.zeros(n // 2), np.full(n // 2, 5.0)]),
    }


def merged_stats(values: np.ndarray, pieces: int) -> AspectStats:
    """As an audit builds it: per-shard statistics, merged in order (shards of unequal sizes)."""
    cuts = sorted({0, len(values), *np.random.default_rng(pieces).integers(0, len(values), pieces - 1).tolist()})
    total = AspectStats()
    for a, b in zip(cuts, cuts[1:], strict=False):
        part = AspectStats()
        part.add(values[a:b])
        total.merge(part, k=0)
    return total


def bound(exact_sorted: np.ndarray, q: float) -> float:
    rank = q * (len(exact_sorted) - 1)
    lo, hi = exact_sorted[math.floor(rank)], exact_sorted[math.ceil(rank)]
    return ALPHA * max(abs(lo), abs(hi)) * (1 + 1e-9) + TINY


@pytest.mark.parametrize("name", list(distributions()))
def test_quantiles_are_within_the_stated_bound_of_numpys(name):
    values = distributions()[name].astype(np.float32).astype(np.float64)  # what a float32 column holds
    exact = np.sort(values)
    s = merged_stats(values, pieces=13)
    assert s.n == len(values) and not s.sketch.exact
    assert s.min == exact[0] and s.max == exact[-1]
    for q in QS:
        want = float(np.quantile(values, q))
        assert abs(s.quantile(q) - want) <= bound(exact, q), (name, q, s.quantile(q), want)


def test_uniform_beyond_0_5_is_read_right():
    """The user's case: scores uniform on [-1, 6] gave p10 0.005 / p90 4.995 from fixed 0-5 bins."""
    values = np.random.default_rng(0).uniform(-1, 6, 100_000).astype(np.float32).astype(np.float64)
    s = merged_stats(values, pieces=5)
    for q in (0.1, 0.9):
        assert s.quantile(q) == pytest.approx(float(np.quantile(values, q)), abs=0.006)
    assert s.quantile(0.1) < 0 and s.quantile(0.9) > 5


def test_small_groups_are_exact_and_any_sharding_gives_the_same_sketch():
    rng = np.random.default_rng(3)
    small = rng.standard_cauchy(EXACT_MAX).astype(np.float64)
    s = merged_stats(small, pieces=7)
    assert s.sketch.exact
    for q in QS:
        assert s.quantile(q) == float(np.quantile(small, q))
    big = rng.uniform(-1, 6, 20_000)
    one, many = merged_stats(big, pieces=1), merged_stats(big, pieces=40)
    assert np.array_equal(one.sketch.keys, many.sketch.keys) and np.array_equal(one.sketch.counts, many.sketch.counts)
    exact_then_big = AspectStats()  # an exact partial merged into a sketched one, and the other way round
    exact_then_big.add(big[:100])
    rest = AspectStats()
    rest.add(big[100:])
    exact_then_big.merge(rest, k=0)
    assert np.array_equal(exact_then_big.sketch.counts, one.sketch.counts)


def test_nan_and_inf_are_counted_apart_and_null_is_absent():
    scores = [1.0, float("nan"), float("inf"), None, -float("inf"), 3.0, 2.0]
    t = pa.table({"id": [str(i) for i in range(len(scores))], "quality_score": pa.array(scores, pa.float32()),
                  "status": ["ok"] * len(scores)})
    spec = AuditSpec(group_by=[], aspects=["quality"], examples=2)
    total = Collected()
    total.merge(batch_stats(t, spec, "x"), spec)
    s = total.groups["(all rows)"].aspects["quality"]
    assert s.n == 3 and s.nonfinite == 3
    assert s.mean == pytest.approx(2.0) and s.min == 1.0 and s.max == 3.0 and s.quantile(0.5) == 2.0
    assert [e.id for e in s.worst_examples()] == ["0", "6"] and [e.id for e in s.best_examples()] == ["5", "6"]


def test_memory_depends_on_the_range_not_the_rows():
    s = AspectStats()
    rng = np.random.default_rng(1)
    for _ in range(20):
        s.add(rng.uniform(0, 5, 50_000))
    # 1,000,000 values on 0-5: the buckets a 0.1% relative grid has there, far fewer than the rows
    assert s.n == 1_000_000 and len(s.sketch.keys) < 2 * math.log(5 / TINY) / math.log((1 + ALPHA) / (1 - ALPHA))
    assert len(s.sketch.keys) < 6000
