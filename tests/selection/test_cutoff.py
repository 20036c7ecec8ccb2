"""The global top-fraction cutoff equals a brute-force sort, whatever the sharding, in bounded scans."""

import math
import random

import numpy as np
import pyarrow as pa
import pytest

from agiqa.errors import ConfigError, DataError
from agiqa.selection import RankCutoff, keep_count, top_fraction_cutoff


def brute_force(rows, fraction, descending=True):
    """Kept ids by sorting everything: best value first, ties by ascending id; null/NaN never kept."""
    ranked = [(v, i) for v, i in rows if v is not None and not (isinstance(v, float) and math.isnan(v))]
    ranked.sort(key=lambda r: ((-r[0] if descending else r[0]), r[1]))
    n = -(-round(fraction * 10**6) * len(ranked) // 10**6)  # ceil, exact: the fractions used have <= 6 decimals
    return {i for _, i in ranked[:n]}


def shard(rows, sizes, id_type=None):
    out, at = [], 0
    for s in sizes:
        part = rows[at:at + s]
        at += s
        out.append(pa.table({"score": pa.array([v for v, _ in part], pa.float32()),
                             "id": pa.array([i for _, i in part], id_type)}))
    assert at == len(rows)
    return out


class Scans:
    def __init__(self, tables):
        self.tables, self.calls = tables, 0

    def __call__(self):
        self.calls += 1
        return iter(self.tables)


def kept(cut: RankCutoff, tables) -> set:
    got = set()
    for t in tables:
        mask = cut.keeps(t.column("score"), t.column("id"))
        got |= set(np.asarray(t.column("id").to_pylist(), dtype=object)[mask].tolist())
    return got


def scored_rows(n, seed, *, ties=True, nulls=True):
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        v = rng.choice([1.5, 2.25, 3.0, 4.5]) if ties and rng.random() < 0.4 else round(rng.uniform(0, 5), 3)
        if nulls and rng.random() < 0.05:
            v = rng.choice([None, float("nan")])
        rows.append((v, f"row-{k:05d}"))
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("fraction", [0.0, 0.013, 0.2, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("max_rows", [1_000_000, 7])
def test_cutoff_keeps_exactly_the_brute_force_set(fraction, max_rows):
    rows = scored_rows(600, seed=3)
    want = brute_force(rows, fraction)
    tables = shard(rows, [1, 250, 0, 49, 300])
    scans = Scans(tables)
    cut = top_fraction_cutoff(scans, "score", "id", fraction, max_rows_in_memory=max_rows)
    assert kept(cut, tables) == want
    assert cut.keep == len(want) and cut.total == sum(1 for v, _ in rows if v is not None and v == v)
    assert scans.calls <= 5
    if max_rows > 600:
        assert scans.calls == (1 if fraction == 0 else 2)
    assert kept(RankCutoff.from_dict(cut.to_dict()), tables) == want  # survives JSON


def test_same_kept_set_whatever_the_sharding_and_order():
    rows = scored_rows(400, seed=11)
    results = set()
    for sizes in ([400], [1] * 400, [7, 93, 300], [200, 0, 150, 50]):
        for order in (1, -1):
            tables = shard(rows, sizes)[::order]
            cut = top_fraction_cutoff(Scans(tables), "score", "id", 0.3, max_rows_in_memory=13)
            results.add((cut.value, cut.id, frozenset(kept(cut, tables))))
    assert len(results) == 1
    assert next(iter(results))[2] == brute_force(rows, 0.3)


def test_ties_are_kept_in_ascending_id_order_up_to_the_cutoff():
    rows = [(4.0, "a"), (3.0, "d"), (3.0, "b"), (3.0, "c"), (3.0, "e"), (1.0, "f")]
    tables = shard(rows, [2, 4])
    cut = top_fraction_cutoff(Scans(tables), "score", "id", 0.5)  # 3 of 6: a, then b and c of the 3.0 tie
    assert (cut.value, cut.id, cut.keep) == (3.0, "c", 3)
    assert kept(cut, tables) == {"a", "b", "c"}


def test_all_rows_tied_beyond_the_memory_limit_are_still_exact():
    rows = [(2.5, i) for i in range(300, 0, -1)]
    tables = shard(rows, [120, 180], pa.int64())
    cut = top_fraction_cutoff(Scans(tables), "score", "id", 0.1, max_rows_in_memory=5)
    assert kept(cut, tables) == set(range(1, 31))


def test_ascending_order_and_integer_and_negative_values():
    rng = random.Random(5)
    rows = [(rng.randint(-50, 50), k) for k in range(500)]
    want = brute_force(rows, 0.25, descending=False)
    tables = [pa.table({"score": pa.array([v for v, _ in rows[a:a + 100]], pa.int32()),
                        "id": pa.array([i for _, i in rows[a:a + 100]])}) for a in range(0, 500, 100)]
    cut = top_fraction_cutoff(Scans(tables), "score", "id", 0.25, descending=False, max_rows_in_memory=3)
    assert kept(cut, tables) == want


def test_negative_zero_ties_with_zero():
    tables = [pa.table({"score": pa.array([-0.0, 0.0, -1.0], pa.float64()), "id": ["b", "a", "c"]})]
    cut = top_fraction_cutoff(Scans(tables), "score", "id", 0.5)  # keep 2 of 3: a (0.0) and b (-0.0)
    assert kept(cut, tables) == {"a", "b"}


def test_nothing_rankable_keeps_nothing():
    tables = [pa.table({"score": pa.array([None, float("nan")], pa.float32()), "id": ["a", "b"]})]
    cut = top_fraction_cutoff(Scans(tables), "score", "id", 1.0)
    assert (cut.total, cut.keep, cut.value) == (0, 0, None)
    assert kept(cut, tables) == set()


def test_keep_count_rounds_up_on_the_decimal():
    assert [keep_count(0.7, 10), keep_count(0.2, 11), keep_count(0.0, 5), keep_count(1.0, 5),
            keep_count(0.001, 3)] == [7, 3, 0, 5, 1]


def test_bad_inputs_are_refused():
    tables = [pa.table({"score": [1.0], "id": ["a"]})]
    with pytest.raises(ConfigError, match="top fraction"):
        top_fraction_cutoff(Scans(tables), "score", "id", 1.5)
    with pytest.raises(DataError, match="missing"):
        top_fraction_cutoff(Scans(tables), "quality_score", "id", 0.5)
    with pytest.raises(DataError, match="not a number"):
        top_fraction_cutoff(Scans([pa.table({"score": ["x"], "id": ["a"]})]), "score", "id", 0.5)
    with pytest.raises(DataError, match="nulls"):
        top_fraction_cutoff(Scans([pa.table({"score": [1.0], "id": pa.array([None], pa.string())})]),
                            "score", "id", 0.5)
