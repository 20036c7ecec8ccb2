"""Many drivers over one dataset (`runner.rank` / `runner.world_size`): the partition, the settings,
the lease per rank, the barrier before a reduce and the merged summary, in this process with
FakeMethod (the CLI with two real driver processes: `test_ranks_cli.py`)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from agiqa.errors import ConfigError, RanksError
from tests.fixtures.shards import write_shard
from tests.fixtures.state import state
from tests.runner.helpers import fake_config

NAMES = [f"s{k}.parquet" for k in range(6)]  # rank 1 of 2 gets s3 only, rank 0 the other five


@pytest.fixture
def six_shards(tmp_path):
    d = tmp_path / "in"
    for k, rel in enumerate(NAMES):
        write_shard(d / rel, [f"{rel}#{i}" for i in range(5)], [f"prompt {k}-{i}" for i in range(5)])
    return d


def ranked(cfg, rank: int, world_size: int, **runner):
    return cfg.model_copy(update={"runner": cfg.runner.model_copy(update={"rank": rank, "world_size": world_size,
                                                                          **runner})})


# -- the partition ---------------------------------------------------------------------------------
def test_the_partition_is_a_stable_hash_of_the_name_covering_every_shard_once():
    from agiqa.runner.ranks import rank_of, shards_of_rank

    # fixed values: the same in every process and on every machine (Python's hash() is salted per process)
    assert [rank_of(n, 2) for n in NAMES] == [0, 0, 0, 1, 0, 0]
    import hashlib

    documented = int.from_bytes(hashlib.blake2b(b"sub/part-00017.parquet", digest_size=8).digest(), "big") % 7
    assert rank_of("sub/part-00017.parquet", 7) == documented == 4
    shards = [SimpleNamespace(rel=f"part-{i:05d}.parquet") for i in range(1000)]
    shares = [shards_of_rank(shards, r, 4) for r in range(4)]
    assert sorted(s.rel for share in shares for s in share) == sorted(s.rel for s in shards)  # each once
    assert all(200 <= len(share) <= 300 for share in shares)
    assert shards_of_rank(shards, 0, 1) == shards


# -- settings: config, flags, environment ----------------------------------------------------------
def test_a_rank_outside_the_world_is_refused_in_one_line(tmp_path, capsys):
    from agiqa.cli import main

    for rank, world in ((2, 2), (1, 1), (-1, 2)):
        code = main(["score", "--input", str(tmp_path), "--output", str(tmp_path / "o"), "--method", "fake",
                     "--runner", "local", "--rank", str(rank), "--world-size", str(world)])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1, err
        assert "runner" in err and ("world_size" in err or "rank" in err)


def test_flags_win_over_the_environment_which_wins_over_the_yaml(tmp_path, monkeypatch):
    from agiqa.cli import build_parser
    from agiqa.commands.filter import load_job_config as filter_config
    from agiqa.commands.score import load_job_config as score_config

    yaml = tmp_path / "job.yaml"
    yaml.write_text(f"input: {tmp_path}\noutput: {tmp_path / 'o'}\nmethod: {{name: fake}}\n"
                    "runner: {kind: local, rank: 1, world_size: 3}\n")

    def score(*flags):
        return score_config(build_parser(["score"]).parse_args(["score", "--config", str(yaml), *flags])).runner

    assert (score().rank, score().world_size) == (1, 3)  # the YAML
    monkeypatch.setenv("AGIQA_RANK", "2")
    monkeypatch.setenv("AGIQA_WORLD_SIZE", "4")
    assert (score().rank, score().world_size) == (2, 4)  # the environment
    assert (score("--rank", "0", "--world-size", "2").rank, score("--world-size", "5").world_size) == (0, 5)
    args = build_parser(["filter"]).parse_args(["filter", "--input", str(tmp_path), "--output", str(tmp_path / "f"),
                                                "--keep", "quality_score >= 1", "--runner", "local"])
    assert (filter_config(args).runner.rank, filter_config(args).runner.world_size) == (2, 4)
    monkeypatch.setenv("AGIQA_RANK", "two")
    with pytest.raises(ConfigError, match="AGIQA_RANK='two' is not a whole number"):
        score()
    monkeypatch.delenv("AGIQA_RANK")
    with pytest.raises(ConfigError, match="AGIQA_WORLD_SIZE=4 is set but neither AGIQA_RANK nor --rank"):
        score()


# -- planning and identity -------------------------------------------------------------------------
def test_each_rank_plans_its_own_share_and_the_identity_ignores_ranks(six_shards, tmp_path):
    from agiqa.runner.lease import job_identity
    from agiqa.runner.plan import plan_pass
    from agiqa.workflows.score import build_score_job

    out = tmp_path / "out"
    jobs = [build_score_job(ranked(fake_config(six_shards, out), r, 2)) for r in range(2)]
    plans = [plan_pass(j, j.passes[0]) for j in jobs]
    assert [sorted(s.rel for s in p.todo) for p in plans] == [[n for n in NAMES if n != "s3.parquet"], ["s3.parquet"]]
    single = build_score_job(fake_config(six_shards, out))
    assert job_identity(jobs[0]) == job_identity(jobs[1]) == job_identity(single)
    assert plans[0].identity_hash == plans[1].identity_hash == plan_pass(single, single.passes[0]).identity_hash


# -- the lease -------------------------------------------------------------------------------------
def test_ranks_hold_their_own_leases_and_other_worlds_or_jobs_are_refused(tmp_path):
    from agiqa.runner.lease import OutputLease
    from agiqa.storage import open_store

    out = str(tmp_path / "out")

    def lease(identity="job", rank=0, world=2, wait=False):
        return OutputLease(open_store(out), out, identity, wait=wait, rank=rank, world_size=world)

    r0, r1 = lease(rank=0), lease(rank=1)
    r0.acquire()
    r1.acquire()  # two ranks at once
    try:
        assert sorted(p.name for p in state(out).glob("lease*.json")) == ["lease.rank-0-of-2.json",
                                                                         "lease.rank-1-of-2.json"]
        with pytest.raises(ConfigError, match="is being written by an identical job"):
            lease(rank=0).acquire()  # the same rank twice: excluded (an identical one waits, wait=True)
        with pytest.raises(ConfigError, match="split 2 way"):
            lease(rank=0, world=3).acquire()
        with pytest.raises(ConfigError, match="split 2 way"):
            lease(rank=0, world=1).acquire()  # a single driver over the same output
        with pytest.raises(ConfigError, match="another job with other settings"):
            lease("other job", rank=0, world=4).acquire()
        assert sorted(p.name for p in state(out).glob("lease*.json")) == ["lease.rank-0-of-2.json",
                                                                         "lease.rank-1-of-2.json"]  # refused: gone
    finally:
        r0.release()
        r1.release()
    single = lease(world=1)
    single.acquire()
    try:
        with pytest.raises(ConfigError, match="split 1 way"):
            lease(rank=1).acquire()  # and the other way round
    finally:
        single.release()


# -- the barrier and the summaries -----------------------------------------------------------------
def test_a_reduce_waits_for_every_rank_then_times_out_in_one_line_and_a_rerun_finishes(six_shards, tmp_path,
                                                                                         caplog):
    import logging

    from agiqa.api import merge_summaries, score

    out = tmp_path / "out"
    caplog.set_level(logging.INFO, "agiqa.runner.barrier")
    with pytest.raises(RanksError) as e:
        score(ranked(fake_config(six_shards, out), 0, 2, rank_wait_s=1.0))
    assert "rank-0-of-2: before reduce duplicate_ids, waiting for 1 shard(s) of pass score from rank(s) 1" in caplog.text
    line = str(e.value)
    assert len(line.splitlines()) == 1
    assert "rank-0-of-2: waited" in line and "before reduce duplicate_ids for 1 shard(s)" in line
    assert "from rank(s) 1 of 2 (first: s3.parquet)" in line
    assert len(list((state(out) / "manifests").glob("*.manifest.json"))) == 5  # its own share is kept
    s1 = score(ranked(fake_config(six_shards, out), 1, 2, rank_wait_s=1.0))
    assert (s1.shards_done, s1.reduced["duplicate_ids"]["rows"]) == (1, 30)  # the reduce saw every rank's rows
    assert not (state(out) / "job_summary.json").exists()  # rank 0 has not finished
    with pytest.raises(RanksError, match=r"rank\(s\) 0 of 2 have no summary"):
        merge_summaries(str(out))
    s0 = score(ranked(fake_config(six_shards, out), 0, 2))  # rank 0 again: skips its share, passes the barrier
    assert (s0.shards_done, s0.shards_skipped, s0.reduced["duplicate_ids"]["rows"]) == (0, 5, 30)
    merged = json.loads((state(out) / "job_summary.json").read_text())
    assert (merged["world_size"], merged["shards_total"], merged["shards_done"], merged["shards_skipped"]) == (2, 6, 1, 5)
    assert merged["rows_by_status"] == {"ok": 5} and [r["rank"] for r in merged["ranks"]] == [0, 1]
    assert merged == merge_summaries(str(out))


def test_a_rank_whose_own_shard_failed_goes_on_and_the_other_rank_waits_for_it(six_shards, tmp_path, caplog):
    from agiqa.api import score

    (six_shards / "s3.parquet").write_bytes(b"not parquet at all")  # rank 1's only shard fails
    out = tmp_path / "out"
    with pytest.raises(RanksError, match=r"from rank\(s\) 1 of 2 \(first: s3.parquet\)"):
        score(ranked(fake_config(six_shards, out), 0, 2, rank_wait_s=1.0))  # rank 1 has not run yet
    s1 = score(ranked(fake_config(six_shards, out), 1, 2, rank_wait_s=1.0))  # rank 0's share is committed
    assert s1.shards_failed == 1 and "its shard s3.parquet of pass score is not committed" in caplog.text
    assert s1.reduced["duplicate_ids"]["rows"] == 25  # without its failed shard, as one driver would
    with pytest.raises(RanksError, match=r"from rank\(s\) 1 of 2 \(first: s3.parquet\)"):
        score(ranked(fake_config(six_shards, out), 0, 2, rank_wait_s=1.0))  # it waits for that shard still


def test_world_size_one_writes_the_summary_as_before(six_shards, tmp_path):
    from agiqa.api import score

    out = tmp_path / "out"
    score(fake_config(six_shards, out))
    names = sorted(p.name for p in state(out).glob("*.json"))
    assert names == ["job_summary.json"] and "world_size" not in json.loads((state(out) / names[0]).read_text())
    assert not list(state(out).glob("lease.rank-*"))


def test_on_a_real_s3_server_two_ranks_at_once_write_what_one_driver_writes(s3_env, six_shards):
    import threading

    from agiqa.api import merge_summaries, score
    from agiqa.runner.lease import OutputLease
    from agiqa.storage import open_store

    bucket, client = s3_env.make_bucket(), s3_env.client()
    for p in sorted(six_shards.glob("*.parquet")):
        client.upload_file(str(p), bucket, f"in/{p.name}")
    inp, out, one = f"s3://{bucket}/in", f"s3://{bucket}/ranks", f"s3://{bucket}/one"
    held = OutputLease(open_store(out), out, "job", rank=1, world_size=2)
    held.acquire()
    try:  # the other leases are found by listing the state root's `lease*` keys
        with pytest.raises(ConfigError, match="split 2 way"):
            OutputLease(open_store(out), out, "job", wait=False, rank=0, world_size=3).acquire()
    finally:
        held.release()
    errors: list = []
    other = threading.Thread(target=lambda: _run_catching(errors, lambda: score(ranked(fake_config(inp, out), 1, 2))),
                             daemon=True)
    other.start()
    s0 = score(ranked(fake_config(inp, out), 0, 2))
    other.join(timeout=120)
    assert errors == [] and s0.reduced["duplicate_ids"]["rows"] == 30
    score(fake_config(inp, one))

    def objects(prefix):
        keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")["Contents"])
        return {k[len(prefix):]: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}

    assert objects("ranks") == objects("one") and len(objects("one")) == 6
    merged = merge_summaries(out)
    assert (merged["shards_done"], merged["world_size"]) == (6, 2)
    assert json.loads(client.get_object(Bucket=bucket, Key="ranks.agiqa/job_summary.json")["Body"].read()) == merged


def _run_catching(errors: list, fn) -> None:
    try:
        fn()
    except Exception as e:  # reported by the test's assertion, not lost in the thread
        errors.append(e)


def test_two_ray_drivers_on_one_cluster_split_the_job(ray_local, six_shards, tmp_path):
    import threading

    from agiqa.api import score

    out, one = tmp_path / "ranks", tmp_path / "one"
    errors: list = []
    other = threading.Thread(target=lambda: _run_catching(
        errors, lambda: score(ranked(fake_config(six_shards, out, runner="ray"), 1, 2))), daemon=True)
    other.start()
    s0 = score(ranked(fake_config(six_shards, out, runner="ray"), 0, 2))
    other.join(timeout=300)
    assert errors == [] and (s0.runner, s0.shards_done, s0.reduced["duplicate_ids"]["rows"]) == ("ray", 5, 30)
    score(fake_config(six_shards, one, runner="ray"))
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == {p.name: p.read_bytes() for p in one.glob("*.parquet")}
    assert json.loads((state(out) / "job_summary.json").read_text())["shards_done"] == 6


def test_a_cascade_cutoff_is_computed_by_every_rank_over_every_ranks_prefilter_scores(six_shards, tmp_path):
    """prefilter pass -> global top-fraction cutoff -> main pass: each rank waits for the whole prefilter
    pass before its cutoff, so both route the same rows one driver routes."""
    import threading

    from agiqa.api import score
    from agiqa.config import ScoreJobConfig

    def cascade(out, rank=0, world=1):
        return ScoreJobConfig(input=str(six_shards), output=str(out), aspects=["quality"],
                              method={"name": "fake", "shift": 10.0}, progress=False, read_batch_rows=2,
                              prefilter={"method": {"name": "fake"}, "top_fraction": {"quality": 0.3}},
                              runner={"kind": "local", "rank": rank, "world_size": world})

    out, one = tmp_path / "ranks", tmp_path / "one"
    errors: list = []
    other = threading.Thread(target=lambda: _run_catching(errors, lambda: score(cascade(out, 1, 2))), daemon=True)
    other.start()
    s0 = score(cascade(out, 0, 2))
    other.join(timeout=120)
    single = score(cascade(one))
    assert errors == [] and s0.reduced["prefilter_cutoffs"] == single.reduced["prefilter_cutoffs"]
    assert single.rows_by_status == {"ok": 9, "prefiltered": 21}  # ceil(0.3 * 30) rows routed, of every shard
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == {p.name: p.read_bytes() for p in one.glob("*.parquet")}
    assert json.loads((state(out) / "job_summary.json").read_text())["rows_by_status"] == single.rows_by_status
