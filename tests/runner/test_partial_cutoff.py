"""A top-fraction cutoff as partial passes (`workflows.cutoff_steps`): the counting spread over
runner passes, one small table per shard, merged by reduces that read only those tables.

The reference is a brute-force sort of every row (tests/selection), not the code under test."""

import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.fixtures.state import state
from tests.selection.test_cutoff import brute_force


def write_shards(root, rows, sizes):
    root.mkdir(parents=True, exist_ok=True)
    at = 0
    for i, n in enumerate(sizes):
        part = rows[at:at + n]
        at += n
        pq.write_table(pa.table({"score": pa.array([v for v, _ in part], pa.float64()),
                                 "id": pa.array([k for _, k in part], pa.int64())}), root / f"s{i:03d}.parquet")
    return root


def tied_rows(n, seed=0):
    """Heavy ties (few distinct values), some nulls: the search must go down to the whole key."""
    rng = random.Random(seed)
    ids = list(range(n))
    rng.shuffle(ids)
    return [(None if rng.random() < 0.05 else float(rng.randint(0, 6)) / 4, k) for k in ids]


def cutoff_job(data, out, fraction, max_rows):
    from agiqa.runner.job import ShardJob
    from agiqa.selection import CutoffSearch
    from agiqa.workflows.cutoff_steps import cutoff_steps

    steps = cutoff_steps("cut", str(data), str(out), CutoffSearch("score", "id", fraction,
                                                                   max_rows_in_memory=max_rows))
    return ShardJob(passes=steps, runner="local", progress=False)


def kept_ids(data, cutoff):
    from agiqa.selection import RankCutoff

    cut = RankCutoff.from_dict(cutoff)
    t = pa.concat_tables(pq.read_table(p) for p in sorted(data.glob("*.parquet")))
    return set(t.column("id").filter(pa.array(cut.keeps(t.column("score"), t.column("id")))).to_pylist())


def run(job):
    from agiqa.runner.local import run_local

    return run_local(job)


@pytest.mark.parametrize("max_rows", [1, 40, 10**6])
@pytest.mark.parametrize("fraction", [0.0, 0.013, 0.37, 1.0])
def test_partial_passes_keep_exactly_the_brute_force_rows(tmp_path, fraction, max_rows):
    rows = tied_rows(700)
    data = write_shards(tmp_path / "scored", rows, [1, 250, 0, 99, 300, 50])
    summary = run(cutoff_job(data, tmp_path / "out", fraction, max_rows))
    assert kept_ids(data, summary.reduced["cut"]) == brute_force(rows, fraction)
    assert not summary.failed
    levels = sum(1 for p in summary.passes if p["stage"] == "cutoff-histogram")
    if max_rows == 1 and 0 < fraction:  # ties at the cutoff: every 16 bits of the key are counted
        assert levels == 4
    elif max_rows == 10**6:
        assert levels == 1


def test_a_rerun_merges_the_committed_partials_without_reading_a_row(tmp_path):
    rows = tied_rows(300, seed=3)
    data = write_shards(tmp_path / "scored", rows, [100, 100, 100])
    first = run(cutoff_job(data, tmp_path / "out", 0.2, 50))
    again = run(cutoff_job(data, tmp_path / "out", 0.2, 50))
    assert again.reduced["cut"] == first.reduced["cut"]
    assert again.passes and all(p["shards_done"] == 0 and p["shards_skipped"] == 3 for p in again.passes)
    assert state(tmp_path / "out").joinpath("partials", "cut-h1").is_dir()
    # another fraction reuses the first histogram (it does not depend on the fraction)
    other = run(cutoff_job(data, tmp_path / "out", 0.5, 10**6))
    assert other.passes[0]["shards_skipped"] == 3
    assert kept_ids(data, other.reduced["cut"]) == brute_force(rows, 0.5)


def test_a_changed_shard_redoes_only_its_partials(tmp_path):
    rows = tied_rows(300, seed=4)
    data = write_shards(tmp_path / "scored", rows, [100, 100, 100])
    run(cutoff_job(data, tmp_path / "out", 0.3, 10**6))
    new = [(9.0, 10_000 + i) for i in range(100)]
    write_shards(tmp_path / "new", new, [100])
    (tmp_path / "new" / "s000.parquet").replace(data / "s002.parquet")
    rows2 = rows[:200] + new
    again = run(cutoff_job(data, tmp_path / "out", 0.3, 10**6))
    assert again.passes[0]["shards_done"] == 1 and again.passes[0]["shards_skipped"] == 2
    assert kept_ids(data, again.reduced["cut"]) == brute_force(rows2, 0.3)


def test_a_shard_its_pass_failed_on_fails_the_merge_naming_it(tmp_path):
    from agiqa.errors import DataError

    data = write_shards(tmp_path / "scored", tied_rows(200), [100, 100])
    (data / "s001.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="s001.parquet.*no committed partial"):
        run(cutoff_job(data, tmp_path / "out", 0.5, 10**6))


def test_the_summary_shows_the_cutoff_not_the_searchs_levels(tmp_path):
    data = write_shards(tmp_path / "scored", tied_rows(200), [100, 100])
    summary = run(cutoff_job(data, tmp_path / "out", 0.5, 10))
    assert list(summary.reduced) == ["cut"] and "cut-h1" not in summary.table()
    assert list(tmp_path.rglob("reduce/cut-h1.json"))  # kept beside the job's output, for whoever debugs a search
