"""Run every pass of a job in this process: the stage set up once per pass, shards streamed through it.

The same `ShardStreamer` as a Ray actor's: batches in flight, a prepare pool, the next shard read
while the current one finishes (`shards_in_flight_per_actor` of them submitted at a time).

Used for `--runner local`, for debugging, and as the baseline the Ray runner is benchmarked against.
"""

from __future__ import annotations

import logging
import time

from agiqa.runner.job import ShardJob
from agiqa.runner.job_loop import run_passes
from agiqa.runner.plan import PassPlan
from agiqa.runner.policy import ShardLedger, interrupted, one_line
from agiqa.runner.progress import Progress
from agiqa.runner.shard import ShardIO
from agiqa.runner.stream import ShardStreamer, prepare_workers
from agiqa.runner.summary import JobSummary
from agiqa.storage.names import shown

log = logging.getLogger(__name__)


def run_local(job: ShardJob) -> JobSummary:
    return run_passes(job, JobSummary(runner="local"), _run_pass)


def _run_pass(plan: PassPlan, summary: JobSummary, t0: float) -> None:
    from collections import deque

    job, stage = plan.job, plan.pass_.stage
    progress = Progress(len(plan.todo), enabled=job.progress, what=stage.name)
    io = ShardIO(stage, plan.pass_.output, plan.in_store, plan.out_store, plan.side_store, plan.pass_.read_batch_rows or job.read_batch_rows,
                 plan.identity, plan.identity_hash, on_rows=progress.add_rows, on_open=progress.shard_opened,
                 max_batches_in_flight=job.max_batches_in_flight,
                 prepare_workers=prepare_workers(stage.resources, job.prepare_workers))
    running: deque = deque()
    try:
        with ShardStreamer(io) as streamer:
            streamer.call(stage.setup)  # on the engine's compute thread, where a sync stage's model work runs
            try:
                summary.startup_s += time.perf_counter() - t0
                progress.started()
                ledger = ShardLedger(summary, job.max_shard_attempts, progress)
                todo = deque(plan.todo)
                while todo or running:
                    while todo and len(running) < job.shards_in_flight_per_actor:
                        shard = todo.popleft()
                        running.append((shard, streamer.submit(shard, plan.side_of(shard))))
                    shard, future = running[0]
                    try:
                        report = future.result()
                    except Exception as e:  # the stage broke on this shard: try again
                        running.popleft()
                        log.debug("shard %s failed", shown(shard.rel), exc_info=True)
                        if ledger.attempt_failed(shard.rel, one_line(e)):
                            todo.appendleft(shard)
                        continue
                    running.popleft()
                    ledger.settle(shard.rel, report.to_dict())
            except KeyboardInterrupt:
                for _, f in running:  # uncommitted shards stop at their next await; their temp files go
                    f.cancel()
                raise
            finally:
                streamer.call(stage.teardown)
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM (`agiqa.signals`): the engine is stopped by now
        raise interrupted(plan, summary, [s for s, _ in running], e) from None
    finally:
        progress.close()  # its heartbeat thread too, whatever stopped the pass (a setup that failed)
