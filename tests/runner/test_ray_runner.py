"""The Ray runner's fault handling, with FakeMethod on a real local Ray: faults come from the stage or the store."""

import pyarrow.parquet as pq

from agiqa.runner.run import run_job
from agiqa.workflows.score import build_score_job
from tests.fixtures.shards import write_shard
from tests.runner.helpers import fake_config


def shards(tmp_path, poison: str | None = None):
    """Three shards of 8 rows; the middle row of the 2nd shard carries `poison` in its prompt."""
    d = tmp_path / "in"
    for k in range(3):
        prompts = [f"row {k}-{i}" + (f" {poison}" if poison and k == 1 and i == 4 else "") for i in range(8)]
        write_shard(d / f"part-{k}.parquet", [f"{k}#{i}" for i in range(8)], prompts)
    return d


def assert_every_row_once(data, out):
    for src in sorted(data.glob("*.parquet")):
        assert pq.read_table(out / src.name).column("id").to_pylist() == pq.read_table(src).column("id").to_pylist()


def test_two_passes_each_get_a_pool_and_every_actor_is_torn_down(ray_local, tmp_path):
    """Pass 2's stage is built on the driver from a reduce step's result, then shipped to its actors."""
    from agiqa.runner.job import Pass, Reduce
    from agiqa.testing.fakes import ThresholdStage

    data, scored, split, log = shards(tmp_path), tmp_path / "scored", tmp_path / "split", tmp_path / "teardowns"
    cfg = fake_config(data, scored, runner="ray", teardown_log=str(log))
    cfg.resources = {"score": {"num_actors": 2, "num_cpus": 1}}
    job = build_score_job(cfg)
    def median(ctx):
        values = sorted(v for t in ctx.scan(str(scored), ["quality_score"]) for v in t.column(0).to_pylist())
        return {"threshold": values[len(values) // 2], "shards": len(ctx.shard_names(str(scored)))}

    job.passes += [Reduce("cut", median),
                   Pass(lambda r: ThresholdStage("quality_score", r["cut"]["threshold"]), str(data), str(split),
                        side_input=str(scored))]
    summary = run_job(job)
    assert summary.stages == ["score", "threshold"] and (summary.shards_done, summary.shards_failed) == (6, 0)
    assert summary.actors == 2 and summary.passes[0]["rows_by_status"]["ok"] == 24
    want = sorted(pq.read_table(scored).column("quality_score").to_pylist())[12]
    assert summary.reduced["cut"] == {"threshold": want, "shards": 3} and sum(summary.rows_by_status.values()) == 24
    kept = pq.read_table(split / "kept").column("side_value").to_pylist()
    assert len(kept) == summary.rows_by_status["kept"] >= 12 and min(kept) >= want
    assert len(set(log.read_text().split())) == 2  # teardown ran in both score actors (two processes)
    assert_every_row_once(data, scored)


def test_actor_killed_mid_shard_job_still_completes(ray_local, tmp_path):
    data, out = shards(tmp_path, poison="die"), tmp_path / "out"
    cfg = fake_config(data, out, runner="ray", die_on="die", die_marker=str(tmp_path / "died"))
    summary = run_job(build_score_job(cfg))
    assert (tmp_path / "died").exists(), "the fault was not injected"
    assert summary.actor_restarts == 1 and (summary.shards_done, summary.shards_failed) == (3, 0)
    assert_every_row_once(data, out)


def test_shard_that_always_kills_its_actor_fails_after_n_attempts(ray_local, tmp_path):
    data, out = shards(tmp_path, poison="die"), tmp_path / "out"
    cfg = fake_config(data, out, runner="ray", die_on="die")
    cfg.runner.max_shard_attempts = 2
    summary = run_job(build_score_job(cfg))
    assert summary.shards_done == 2 and summary.shards_failed == 1
    assert summary.failed[0]["shard"] == "part-1.parquet" and summary.failed[0]["attempts"] == 2
    assert "actor died" in summary.failed[0]["reason"]
    assert not (out / "part-1.parquet").exists() and (out / "part-0.parquet").exists()


def test_actor_dying_after_commit_counts_the_shard_done(ray_local, tmp_path):
    """The reply of a committed shard is lost with its actor: the manifest says it is done."""
    from agiqa.testing.faults import die_after_manifest

    data, out = shards(tmp_path), tmp_path / "out"
    summary = run_job(build_score_job(fake_config(data, out, runner="ray"),
                                      open_store=die_after_manifest("part-0.parquet")))
    assert summary.actor_restarts == 1
    assert (summary.shards_done, summary.shards_failed, summary.rows_ok) == (3, 0, 24)
    assert_every_row_once(data, out)


def test_replacements_that_die_while_starting_charge_no_shard(ray_local, tmp_path):
    """The actor dies on a shard (one attempt charged); its next two replacements die in setup: the
    shard queued on them ran on neither, so it is not charged again and the job completes with
    max_shard_attempts=2 (before: "failed after 2 attempts" and 8 rows missing until a rerun)."""
    data, out = shards(tmp_path, poison="die"), tmp_path / "out"
    cfg = fake_config(data, out, runner="ray", die_on="die", die_marker=str(tmp_path / "died"), setup_deaths=2,
                      setup_death_log=str(tmp_path / "setup-deaths"))
    cfg.runner.max_shard_attempts = 2
    summary = run_job(build_score_job(cfg))
    assert len((tmp_path / "setup-deaths").read_text().splitlines()) == 2, "the start-up deaths were not injected"
    assert (summary.shards_done, summary.shards_failed) == (3, 0), summary.failed
    assert summary.actor_restarts == 3
    assert_every_row_once(data, out)
