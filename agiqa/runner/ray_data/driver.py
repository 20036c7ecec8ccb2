"""The Ray Data driver: each pass's to-do shards as a small dataset (one row per shard) mapped by an
actor pool of `ShardTask`s; results fed to the same `ShardLedger`, failed shards re-submitted in a
next round, then the same summary and end of job as the other runners.

What Ray Data owns here: scheduling shards onto actors, starting the pool (`ActorPoolStrategy`, shaped
by the stage's resources as the `ray` runner shapes its pool), restarting an actor that dies. What it
does not: retrying a shard (its task retries are off; the ledger counts attempts, up to
`runner.max_shard_attempts`) or deciding what is done (the manifests do). A shard whose task gave no
row (its actor died, or the task was lost) is done if its manifest is committed. Otherwise: Ray Data
does not say which of the shards on a dying actor killed it, so after a round with several shards
per actor the lost ones go back uncharged, as suspects, and a round with suspects in it runs one
shard per actor at a time, where a lost shard was alone on its actor and is charged one attempt
(the `ray` runner's rule, by rounds instead of by actor).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from contextlib import contextmanager

from agiqa.errors import ClusterError
from agiqa.quiet import QUIET_ENV
from agiqa.runner.job import ShardJob
from agiqa.runner.job_loop import run_passes
from agiqa.runner.plan import PassPlan
from agiqa.runner.policy import ShardLedger, interrupted, one_line
from agiqa.runner.progress import Progress
from agiqa.runner.ray.driver import connect, pool_shape
from agiqa.runner.ray_data.task import ShardTask, shard_row
from agiqa.runner.summary import JobSummary
from agiqa.storage.names import shown

log = logging.getLogger(__name__)

#: Why a shard is charged when its task returned no row.
LOST = "no result from Ray Data (its actor died, or its task was lost)"


def run_on_ray_data(job: ShardJob) -> JobSummary:
    return run_passes(job, JobSummary(runner="ray-data", actors=0), _run_pass)


def _run_pass(plan: PassPlan, summary: JobSummary, t_pass: float) -> None:
    import ray

    job, stage = plan.job, plan.pass_.stage
    connect(job.address)
    n, gpus, cpus = pool_shape(stage.resources, ray.cluster_resources())
    n = min(n, len(plan.todo))
    summary.actors = max(summary.actors, n)
    progress = Progress(len(plan.todo), enabled=job.progress, what=stage.name)
    ledger = ShardLedger(summary, job.max_shard_attempts, progress)
    todo, pending, first = list(plan.todo), {}, True
    suspects: set[str] = set()  # lost with an actor that had other shards on it: run alone until settled
    try:
        while todo:
            pending = {s.rel: s for s in todo}
            solo = bool(suspects & set(pending))
            retry = []
            k = 1 if solo else job.shards_in_flight_per_actor
            for row in _results(plan, todo, min(n, len(todo)), gpus, cpus, k):
                shard = pending.pop(row["shard"])
                suspects.discard(shard.rel)
                if row["error"]:
                    if ledger.attempt_failed(shard.rel, row["error"], n):
                        retry.append(shard)
                    continue
                report = json.loads(row["report"])
                if first:  # the pool is up: what came before the first shard's own time was start-up
                    summary.startup_s += max(0.0, time.perf_counter() - t_pass - report.get("seconds", 0.0))
                    progress.started()
                    first = False
                ledger.settle(shard.rel, report, n)
            retry += _settle_lost(plan, list(pending.values()), ledger, n, suspects,
                                  charge=solo or job.shards_in_flight_per_actor == 1)
            pending, todo = {}, retry
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: Ray Data's pool goes with the iterator; commits stay
        raise interrupted(plan, summary, list(pending.values()), e) from None
    except ClusterError:
        raise
    except Exception as e:  # Ray Data stopped the execution (e.g. the actors could not start)
        _settle_lost(plan, list(pending.values()), ledger, n, suspects, charge=None)
        raise ClusterError(f"{stage.name} on Ray Data: {one_line(e)}") from None
    finally:
        progress.close()


def _settle_lost(plan: PassPlan, lost: list, ledger: ShardLedger, alive: int, suspects: set[str],
                 charge: bool | None) -> list:
    """Shards whose task gave no row: done when committed (the actor died after the commit). The rest are
    charged one attempt when each was alone on its actor (`charge`), else go back uncharged as
    `suspects`; None: the execution stopped, nothing more is run. Returns those to run again."""
    again = []
    for s in lost:
        m = plan.committed_manifest(s)
        if m is not None:
            log.warning("no result for %s from Ray Data, but it is committed: counted as done", shown(s.rel))
            suspects.discard(s.rel)
            ledger.settle(s.rel, {"ok": True, "rows_by_status": m.get("rows_by_status", {}),
                                  "rows_out": m.get("rows_out", 0)}, alive)
        elif charge:
            if ledger.attempt_failed(s.rel, LOST, alive):
                again.append(s)
        elif charge is not None:
            suspects.add(s.rel)
            again.append(s)
    if charge is False and again:
        log.warning("%d shard(s) lost with their actors (%s); running them again one per actor, uncharged",
                    len(again), ", ".join(shown(s.rel) for s in again))
    return again


def _results(plan: PassPlan, shards: list, n: int, gpus: float, cpus: float, k: int):
    """One round: every shard of `shards` through an actor pool of `n`, `k` shards on each actor at a time;
    yields a row per shard that came back (its relative name, its report as JSON, and `error`), in the
    order they finish."""
    import ray.data

    job = plan.job
    with _data_context(), warnings.catch_warnings():
        # Ray 2.60 has no named parameter for actor restarts and task retries; the test of a shard that
        # always kills its actor fails (never ends) on a Ray that drops them
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        ds = ray.data.from_items([shard_row(s, plan.side_of(s)) for s in shards], override_num_blocks=len(shards))
        out = ds.map_batches(
            ShardTask, batch_size=1, batch_format="pyarrow", zero_copy_batch=True,
            fn_constructor_args=(job, plan.pass_, plan.identity, plan.identity_hash),
            # a shard's calls run at once on its actor (threads), so the streamer chains them: the next shard
            # reads and prepares while the current one runs
            compute=ray.data.ActorPoolStrategy(size=n, max_tasks_in_flight_per_actor=k,
                                               max_concurrent_calls_per_actor=k, enable_true_multi_threading=True),
            num_cpus=cpus, num_gpus=gpus,
            max_restarts=-1, max_task_retries=0,  # a dead actor is restarted; its shards are the ledger's to retry
            runtime_env={"env_vars": {"OMP_NUM_THREADS": str(int(max(cpus, 1))), **QUIET_ENV}})
        yield from out.iter_rows()


@contextmanager
def _data_context():
    """Ray Data's settings for a round, restored after: a task that gave no row (a dead actor) does not
    stop the execution (the driver settles it), and no Ray Data progress bars beside agiqa's."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    saved = {k: getattr(ctx, k) for k in ("max_errored_blocks", "enable_progress_bars", "print_on_execution_start")}
    ctx.max_errored_blocks, ctx.enable_progress_bars, ctx.print_on_execution_start = -1, False, False
    try:
        yield ctx
    finally:
        for k, v in saved.items():
            setattr(ctx, k, v)
