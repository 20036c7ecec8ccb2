"""Reduce steps: map (pass 1) -> reduce on the driver (a global value) -> apply (pass 2 built from it)."""

import json
import statistics

import pyarrow.parquet as pq
import pytest

from tests.fixtures.state import state
from tests.runner.helpers import fake_config

SHARDS = ["a.parquet", "b.parquet", "sub/c.parquet", "sub/d.parquet"]


def quantile_of(column: str, q: float):
    """A reduce: the q-quantile of `column` over every committed shard of the pass-1 output."""
    def fn(ctx):
        root = ctx.job.passes[0].output
        values = [v for t in ctx.scan(root, [column]) for v in t.column(column).to_pylist()]
        return {"threshold": statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1],
                "rows": len(values)}
    return fn


def three_step_job(data, scored, split, q: float):
    from agiqa.runner.job import Pass, Reduce
    from agiqa.testing.fakes import ThresholdStage
    from agiqa.workflows.score import build_score_job

    job = build_score_job(fake_config(data, scored, read_batch_rows=3))
    job.passes += [Reduce("cut", quantile_of("quality_score", q)),
                   Pass(lambda results: ThresholdStage("quality_score", results["cut"]["threshold"]),
                        str(data), str(split), side_input=str(scored))]
    return job


def test_pass_two_is_built_from_a_global_value_computed_over_every_shard(small_shards, tmp_path):
    from agiqa.runner.run import run_job

    scored, split = tmp_path / "scored", tmp_path / "split"
    summary = run_job(three_step_job(small_shards, scored, split, 0.75))
    # the global value, computed here from the committed files without the runner
    everything = [v for rel in SHARDS for v in pq.read_table(scored / rel).column("quality_score").to_pylist()]
    want = statistics.quantiles(everything, n=100, method="inclusive")[74]
    assert summary.reduced["cut"] == {"threshold": pytest.approx(want), "rows": 40}
    assert json.loads((state(split) / "reduce" / "cut.json").read_text())["threshold"] == pytest.approx(want)
    kept = [r for rel in SHARDS if (split / "kept" / rel).exists() for r in pq.read_table(split / "kept" / rel).to_pylist()]
    assert sorted(r["id"] for r in kept) == sorted(
        r["id"] for rel in SHARDS for r in pq.read_table(scored / rel).to_pylist() if r["quality_score"] >= want)
    assert summary.rows_by_status["kept"] == len(kept) and summary.passes[0]["rows_by_status"] == {"ok": 40}


def test_rerun_skips_both_passes_and_another_global_value_redoes_only_pass_two(small_shards, tmp_path):
    from agiqa.runner.run import run_job

    scored, split = tmp_path / "scored", tmp_path / "split"
    first = run_job(three_step_job(small_shards, scored, split, 0.75))
    again = run_job(three_step_job(small_shards, scored, split, 0.75))
    assert (again.shards_skipped, again.shards_done) == (8, 0) and again.reduced["cut"]["rows"] == 40
    other = run_job(three_step_job(small_shards, scored, split, 0.25))
    assert [p["shards_skipped"] for p in other.passes] == [4, 0] and [p["shards_done"] for p in other.passes] == [0, 4]
    assert other.rows_by_status["kept"] > first.rows_by_status["kept"]  # a lower threshold, applied


def test_duplicate_ids_across_shards_are_counted_exactly_and_reported(tmp_path, caplog):
    """Ids repeated across shards (and one null) reach the score summary; a fresh id set reports none."""
    from agiqa.api import score
    from tests.fixtures.shards import write_shard
    from tests.runner.helpers import fake_config

    write_shard(tmp_path / "in" / "a.parquet", ["x", "y", "z"])
    write_shard(tmp_path / "in" / "b.parquet", ["y", "w", "x"])
    write_shard(tmp_path / "in" / "c.parquet", ["x", "v"])
    summary = score(fake_config(tmp_path / "in", tmp_path / "out"))
    dup = summary.reduced["duplicate_ids"]
    assert dup == {"rows": 8, "duplicate_ids": 2, "duplicate_rows": 5, "null_ids": 0, "examples": ["x", "y"]}
    assert "2 id(s) occur more than once" in caplog.text
    clean = score(fake_config(tmp_path / "in", tmp_path / "out2").model_copy(
        update={"input": str(tmp_path / "in" / "a.parquet")}))
    assert clean.reduced["duplicate_ids"]["duplicate_ids"] == 0
