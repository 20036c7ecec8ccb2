"""Per-shard statistics merge to the same numbers whatever the sharding, in memory independent of rows."""

import random
import statistics

import numpy as np
import pyarrow as pa
import pytest

from agiqa.audit.collect import AuditSpec, Collected, batch_stats


def table(rows):
    return pa.table({"id": [r[0] for r in rows], "generator": [r[1] for r in rows],
                     "quality_score": pa.array([r[2] for r in rows], pa.float32()),
                     "status": ["ok" if r[2] is not None else "error" for r in rows]})


def merged(rows, sizes, spec):
    total, at = Collected(), 0
    for s in sizes:
        total.merge(batch_stats(table(rows[at:at + s]), spec, "x"), spec)
        at += s
    return total


def test_any_sharding_gives_the_same_numbers_and_examples():
    rng = random.Random(2)
    rows = [(f"i{k:04d}", rng.choice("ab"), rng.choice([None, round(rng.uniform(0, 5), 2), 3.0])) for k in range(900)]
    spec = AuditSpec(group_by=["generator"], aspects=["quality"], examples=5)
    one = merged(rows, [900], spec)
    many = merged(rows, [1, 400, 0, 99, 400], spec)
    for g in ("a", "b"):
        x, y = one.groups[g].aspects["quality"], many.groups[g].aspects["quality"]
        vals = sorted(np.float32(r[2]).item() for r in rows if r[1] == g and r[2] is not None)
        assert x.n == y.n == len(vals) and x.sketch.exact and y.sketch.exact  # small groups: exact quantiles
        assert x.mean == pytest.approx(statistics.mean(vals), abs=1e-9) and y.mean == pytest.approx(x.mean, abs=1e-9)
        assert y.sd == pytest.approx(statistics.stdev(vals), abs=1e-9)
        for q in (0.1, 0.5, 0.9):
            assert y.quantile(q) == pytest.approx(float(np.quantile(vals, q)), abs=1e-12)
        ranked = sorted((np.float32(r[2]).item(), r[0]) for r in rows if r[1] == g and r[2] is not None)
        assert [e.id for e in y.worst_examples()] == [i for _, i in ranked[:5]] == [e.id for e in x.worst_examples()]
        best = sorted(ranked, key=lambda t: (-t[0], t[1]))[:5]
        assert [e.id for e in y.best_examples()] == [i for _, i in best]
        assert one.groups[g].errors == many.groups[g].errors == sum(1 for r in rows if r[1] == g and r[2] is None)


def test_memory_does_not_grow_with_rows():
    spec = AuditSpec(group_by=["generator"], aspects=["quality"], examples=3)
    total = Collected()
    for k in range(50):
        total.merge(batch_stats(table([(f"{k}-{i}", "a", (i % 500) / 100) for i in range(2000)]), spec, "s"), spec)
    s = total.groups["a"].aspects["quality"]
    assert s.n == 100_000 and len(s.worst) == len(s.best) == 3 and len(s.sketch.keys) < 5000
