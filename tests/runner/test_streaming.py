"""The streaming hot path (`runner.stream`): K batches in flight, out-of-order completion written in input
order, the next shard started before the current one commits, a bounded prepare pool, faults kept local."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pyarrow.parquet as pq
import pytest

from agiqa.runner.run import run_job
from agiqa.stages.score import ScoreStage
from agiqa.workflows.score import build_score_job
from tests.fixtures.shards import write_shard
from tests.runner.helpers import fake_config

ROWS, BATCH = 24, 3  # 8 batches per shard


def shards(tmp_path, n: int = 3, poison: str | None = None):
    """`n` shards of 24 rows; each batch's first prompt names it (`s<k>b<j>`); row 13 of the 2nd carries `poison`."""
    d = tmp_path / "in"
    for k in range(n):
        prompts = [f"s{k}b{i // BATCH}" + ("" if i % BATCH == 0 else f" row {i}") + (
            f" {poison}" if poison and k == 1 and i == 13 else "") for i in range(ROWS)]
        write_shard(d / f"part-{k}.parquet", [f"{k}#{i}" for i in range(ROWS)], prompts)
    return d


def job_config(data, out, k: int, runner: str = "local", **method):
    cfg = fake_config(data, out, runner=runner, read_batch_rows=BATCH, **method)
    cfg.runner.max_batches_in_flight = k
    return cfg


def input_order(data) -> list[str]:
    return [p for src in sorted(data.glob("*.parquet")) for p in pq.read_table(src).column("prompt").to_pylist()
            if " " not in p]


def test_batches_finishing_out_of_order_are_written_in_input_order_as_the_same_bytes(tmp_path):
    data = shards(tmp_path)
    for k in (1, 4):
        log = tmp_path / f"done-{k}.txt"
        s = run_job(build_score_job(job_config(data, tmp_path / f"k{k}", k, batch_latency_s=(0.001, 0.04),
                                               completion_log=str(log))))
        assert (s.shards_done, s.shards_failed) == (3, 0)
    done1 = (tmp_path / "done-1.txt").read_text().split()
    done4 = (tmp_path / "done-4.txt").read_text().split()
    assert done1 == input_order(data)  # one at a time: finished in submission order
    assert sorted(done4) == sorted(done1) and done4 != done1, "with 4 in flight the batches must finish out of order"
    for src in sorted(data.glob("*.parquet")):
        one, four = (tmp_path / "k1" / src.name).read_bytes(), (tmp_path / "k4" / src.name).read_bytes()
        assert one == four
        assert pq.read_table(tmp_path / "k4" / src.name).column("id").to_pylist() == \
            pq.read_table(src).column("id").to_pylist()


def test_k_batches_really_run_at_once_and_the_next_shard_starts_before_the_current_one_commits(tmp_path):
    data = shards(tmp_path, n=2)
    log = tmp_path / "events.txt"

    class Recording(ScoreStage):
        """Logs when each batch's process starts and ends, and when the first shard's commit ran."""

        async def process(self, prep):
            with open(log, "a") as f:
                f.write(f"start {prep.prompts[0]} {time.time()}\n")
            out = await super().process(prep)
            with open(log, "a") as f:
                f.write(f"end {prep.prompts[0]} {time.time()}\n")
            return out

    job = build_score_job(job_config(data, tmp_path / "out", 4, batch_latency_s=(0.02, 0.05)))
    job.passes[0].stage.__class__ = Recording
    s = run_job(job)
    assert (s.shards_done, s.shards_failed) == (2, 0)
    events = [ln.split() for ln in log.read_text().splitlines()]
    running, most = 0, 0
    for kind, _, _ in events:
        running += 1 if kind == "start" else -1
        most = max(most, running)
    assert most == 4  # K in flight, never more
    t = {(kind, name): float(at) for kind, name, at in events}
    committed = (tmp_path / "out.agiqa" / "manifests" / "part-0.parquet.manifest.json").stat().st_mtime
    assert t[("start", "s1b0")] < committed, "the second shard's first batch waited for the first to commit"


class CountingStage(ScoreStage):
    """A score stage whose prepare records how many of its calls run at once, and on which threads."""

    lock = threading.Lock()
    now = most = 0
    threads: set = set()

    def prepare(self, batch, side=None, shard=None):
        cls = CountingStage
        with cls.lock:
            cls.now += 1
            cls.most = max(cls.most, cls.now)
            cls.threads.add(threading.current_thread().name)
        try:
            time.sleep(0.02)
            if shard is not None and shard.rel == "part-1.parquet" and "s1b5" in batch.column("prompt").to_pylist():
                raise OSError("disk gone while decoding this batch")
            return super().prepare(batch, side, shard)
        finally:
            with cls.lock:
                cls.now -= 1


@pytest.mark.parametrize("workers", [1, 3])
def test_the_prepare_pool_runs_exactly_the_configured_threads_and_a_failing_prepare_fails_only_its_shard(
        tmp_path, workers):
    data = shards(tmp_path)
    cfg = job_config(data, tmp_path / "out", 4)
    cfg.runner.prepare_workers = workers
    cfg.runner.max_shard_attempts = 2
    job = build_score_job(cfg)
    job.passes[0].stage.__class__ = CountingStage
    CountingStage.now = CountingStage.most = 0
    CountingStage.threads = set()
    s = run_job(job)
    assert CountingStage.most == workers and len(CountingStage.threads) == workers
    assert all(name.startswith("agiqa-prepare") for name in CountingStage.threads)
    assert (s.shards_done, s.shards_failed) == (2, 1)
    assert [f["shard"] for f in s.failed] == ["part-1.parquet"] and "disk gone" in s.failed[0]["reason"]
    assert not (tmp_path / "out" / "part-1.parquet").exists()
    for k in (0, 2):
        assert pq.read_table(tmp_path / "out" / f"part-{k}.parquet").column("id").to_pylist() == \
            [f"{k}#{i}" for i in range(ROWS)]


def test_prepare_workers_default_to_the_stages_whole_cpus():
    from agiqa.resources import Resources
    from agiqa.runner.stream import prepare_workers

    assert prepare_workers(Resources(num_cpus=3.5)) == 3
    assert prepare_workers(Resources(num_cpus=0.25)) == 1
    assert prepare_workers(Resources(num_cpus=8), configured=2) == 2


KILLED_RUN = """
import sys
import agiqa.testing.fakes
from agiqa.runner.run import run_job
from agiqa.workflows.score import build_score_job
from tests.runner.helpers import fake_config
cfg = fake_config(sys.argv[1], sys.argv[2], read_batch_rows=3, die_on="die", batch_latency_s=(0.001, 0.03))
cfg.runner.max_batches_in_flight = 4
run_job(build_score_job(cfg))
"""


def test_a_process_killed_with_batches_in_flight_resumes_with_no_row_lost_or_twice(tmp_path):
    data, out = shards(tmp_path, poison="die"), tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", KILLED_RUN, str(data), str(out)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]  # the method killed its process mid-shard
    assert not (out / "part-1.parquet").exists()  # uncommitted: at most a hidden temp file
    assert all(f.name.startswith(".") for f in out.glob("*.tmp"))
    s = run_job(build_score_job(job_config(data, out, 4, batch_latency_s=(0.001, 0.03))))
    assert s.shards_failed == 0 and s.shards_done + s.shards_skipped == 3 and s.shards_done >= 1
    assert sorted(f.name for f in out.glob("*.parquet")) == sorted(f.name for f in data.glob("*.parquet"))
    for src in sorted(data.glob("*.parquet")):
        ids = pq.read_table(out / src.name).column("id").to_pylist()
        assert ids == pq.read_table(src).column("id").to_pylist()  # every row once, in order


@pytest.mark.slow
def test_an_actor_killed_with_batches_in_flight_is_replaced_and_no_row_is_lost_or_twice(ray_local, tmp_path):
    data, out = shards(tmp_path, poison="die"), tmp_path / "out"
    cfg = job_config(data, out, 4, runner="ray", die_on="die", die_marker=str(tmp_path / "died"),
                     batch_latency_s=(0.001, 0.03))
    summary = run_job(build_score_job(cfg))
    assert (tmp_path / "died").exists(), "the fault was not injected"
    assert summary.actor_restarts == 1 and (summary.shards_done, summary.shards_failed) == (3, 0)
    for src in sorted(data.glob("*.parquet")):
        assert pq.read_table(out / src.name).column("id").to_pylist() == pq.read_table(src).column("id").to_pylist()
