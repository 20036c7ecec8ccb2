"""The Ray driver: plan each pass, feed its actor pool, replace dead actors, retry, summarise.

Each pass gets its own pool, shaped by its stage's resources (GPUs and CPUs per actor, number of
actors), so a cheap stage never waits on the MLLM's actors. Failures follow `runner.policy`; what
only Ray adds is actor death:
- an actor dies (process killed, node lost, out of memory): it is replaced; a shard committed
  before the death (its reply lost with the actor) is done. An actor streams its queued shards
  back to back (the next one's rows are read, decoded and scored while the current one finishes),
  so when several shards were on it the death could come from any of them: they go back without
  penalty, as suspects, and each suspect then runs alone on an actor; a death with one shard on
  the actor counts one attempt for that shard.
Because outputs are committed with manifests, a driver killed mid-job loses only the shards in
flight: a rerun skips everything committed.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict, deque

from agiqa.errors import ClusterError
from agiqa.quiet import QUIET_ENV
from agiqa.runner.job import ShardJob
from agiqa.runner.job_loop import run_passes
from agiqa.runner.plan import PassPlan
from agiqa.runner.policy import ShardLedger, interrupted, one_line
from agiqa.runner.progress import Progress
from agiqa.runner.ray.actor import StageActor
from agiqa.runner.summary import JobSummary
from agiqa.storage.names import shown

log = logging.getLogger(__name__)


def connect(address: str | None) -> None:
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if address:
        check_reachable(address)
        ray.init(address=address, log_to_driver=True)
    else:
        log.info("no Ray address given: starting a local Ray")
        ray.init(include_dashboard=False, log_to_driver=True)
    from agiqa.signals import reinstall

    reinstall()  # ray.init's SIGTERM handler calls sys.exit under Ray's threads: a native crash dump


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """ClusterError within seconds when nothing answers at a Ray address (`ray.init` would retry for minutes)."""
    import socket
    from urllib.parse import urlsplit

    if address in ("auto", "local"):
        return
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    default = 10001 if parts.scheme == "ray" and "://" in address else 6379
    try:
        host, port = parts.hostname, parts.port or default
    except ValueError:
        raise ClusterError(f"Ray address {address!r} is not host:port") from None
    if not host:
        raise ClusterError(f"Ray address {address!r} has no host")
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as e:
        raise ClusterError(f"no Ray cluster answers at {address} ({host}:{port}: {e.strerror or e})") from None


def pool_shape(resources, cluster: dict, node_cpus: list[float] | None = None) -> tuple[int, float, float]:
    """(actors, GPUs each, CPUs each) for a stage's resources on a cluster with `cluster` totals and
    alive nodes of `node_cpus` CPUs each.

    A GPU stage gets one actor per `num_gpus` of the cluster's GPUs. A CPU-only stage (a filter, a
    reduce's partials) gets actors of the smallest node's CPUs (at least its `num_cpus`), as many as
    fit on every node: one actor holding the whole machine on one node, and on a cluster of many
    nodes actors each of them can place (one reserving the *cluster's* CPUs never starts)."""
    gpus, cpus = float(cluster.get("GPU", 0)), float(cluster.get("CPU", 1))
    if gpus > 0 and resources.num_gpus > 0:
        n = resources.num_actors or max(1, int(gpus / resources.num_gpus))
        return n, resources.num_gpus, resources.num_cpus
    if resources.num_actors:
        n = resources.num_actors
        return n, 0.0, max(resources.num_cpus, float(int(cpus // n)) or 1.0)
    nodes = [c for c in (node_cpus or [cpus]) if c >= resources.num_cpus] or [cpus]
    each = max(resources.num_cpus, float(int(min(nodes))) or 1.0)
    return max(1, sum(int(c // each) for c in nodes)), 0.0, each


def alive_node_cpus() -> list[float]:
    """The CPUs of each alive node of the connected cluster."""
    import ray

    return [float(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]


def check_placeable(stage_name: str, gpus: float, cpus: float) -> None:
    """Refuse, in one line, actors no alive node can hold (Ray would wait for them forever)."""
    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if not any(r.get("CPU", 0) >= cpus and r.get("GPU", 0) >= gpus for r in nodes):
        have = "; ".join(f"{r.get('CPU', 0):g} CPU, {r.get('GPU', 0):g} GPU" for r in nodes) or "no alive node"
        raise ClusterError(f"{stage_name} actors need {cpus:g} CPU and {gpus:g} GPU each, and no node of the cluster "
                           f"has that ({have}); lower resources.{stage_name} or add nodes")


def run_on_ray(job: ShardJob) -> JobSummary:
    return run_passes(job, JobSummary(runner="ray", actors=0), _run_pass)


def _run_pass(plan: PassPlan, summary: JobSummary, t_pass: float) -> None:
    import ray

    job, p = plan.job, plan.pass_
    connect(job.address)
    n, gpus, cpus = pool_shape(p.stage.resources, ray.cluster_resources(), alive_node_cpus())
    check_placeable(p.stage.name, gpus, cpus)
    pool, inflight = None, {}  # inflight: ref -> (shard, actor index, actor generation)
    try:
        pool = ActorPool(job, plan, min(n, len(plan.todo)), gpus, cpus)
        summary.actors = max(summary.actors, len(pool.actors))
        summary.startup_s += time.perf_counter() - t_pass
        _drive(plan, pool, summary, inflight)
        summary.shards_prefetched += pool.prefetched()
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM (`agiqa.signals`): stop the actors, keep the commits
        if pool is not None:
            pool.shutdown(teardown=False)  # no waiting on engines: their uncommitted shards are redone
            pool = None
        raise interrupted(plan, summary, [s for s, _, _ in inflight.values()], e) from None
    finally:
        if pool is not None:
            pool.shutdown()
            summary.actor_restarts += pool.restarts


class ActorPool:
    def __init__(self, job: ShardJob, plan: PassPlan, n: int, gpus: float, cpus: float):
        import ray

        self.args = (job, plan.pass_, plan.identity, plan.identity_hash)
        self.remote_cls = ray.remote(StageActor)
        self.stage_name = plan.pass_.stage.name
        #: Drivers of one job split N ways (`runner.ranks`) may share a cluster and a process: names stay apart.
        self.rank_suffix = f"-rank-{job.rank}-of-{job.world_size}" if job.world_size > 1 else ""
        # Threads: one per queued `run` call (each opens its shard, then waits for the engine).
        self.options = dict(num_gpus=gpus, num_cpus=cpus, max_restarts=0,
                            # actors' output is piped to the driver: no library bars or advice
                            runtime_env={"env_vars": {"OMP_NUM_THREADS": str(int(max(cpus, 1))), **QUIET_ENV}},
                            max_concurrency=job.shards_in_flight_per_actor + 2)
        self.actors: list = [None] * n
        self.generation = [0] * n
        self.calls = [0] * n  # run calls made on each actor's current generation
        #: (rows finished, shards opened, their rows) of each actor's current generation at the last poll
        self.rows_seen = [(0, 0, 0)] * n
        self.restarts = 0
        self.ready_refs: list = [None] * n
        #: Replacements of each actor that died while starting, in a row (reset once one starts).
        self.start_deaths = [0] * n
        for i in range(n):
            self.start(i)
        try:  # surface construction errors (bad model, bad adapter) once, clearly
            ray.get([a.ready.remote() for a in self.actors], timeout=job.actor_start_timeout_s)
        except ray.exceptions.GetTimeoutError:
            self.shutdown(teardown=False)
            raise ClusterError(f"{self.stage_name} actors did not start within {job.actor_start_timeout_s:g} s "
                               f"(runner.actor_start_timeout_s): the cluster may be busy or short of "
                               f"{cpus:g} CPU / {gpus:g} GPU per actor") from None
        except Exception as e:
            self.shutdown(teardown=False)
            raise ClusterError(f"{self.stage_name} actors failed to start: {one_line(e)}") from None

    def start(self, i: int) -> None:
        self.generation[i] += 1
        self.calls[i] = 0
        self.rows_seen[i] = (0, 0, 0)
        name = f"agiqa-{self.stage_name}-{i}-g{self.generation[i]}-{os.getpid()}{self.rank_suffix}"
        self.actors[i] = self.remote_cls.options(name=name, **self.options).remote(*self.args)
        self.ready_refs[i] = self.actors[i].ready.remote()  # done once the stage is set up

    def started(self, i: int) -> bool:
        """Whether actor `i`'s current generation finished starting (its stage set up) before now."""
        import ray

        done, _ = ray.wait([self.ready_refs[i]], timeout=0)
        if not done:
            return False
        try:
            ray.get(done[0])
            return True
        except Exception:
            return False

    def replace(self, i: int) -> None:
        import ray

        try:
            ray.kill(self.actors[i], no_restart=True)
        except Exception:
            pass
        self.restarts += 1
        self.start(i)

    def prefetched(self) -> int:
        """Shards whose first batch was ready before their turn (engine kept fed across shards)."""
        import ray

        try:
            return sum(st["prefetched_used"] for st in ray.get([a.stats.remote() for a in self.actors], timeout=30))
        except Exception:
            return 0

    def poll_rows(self, progress: Progress) -> None:
        """Rows finished and shards opened since the last poll, over all actors, into `progress` (it
        moves between shard commits)."""
        import ray

        try:
            stats = ray.get([a.stats.remote() for a in self.actors], timeout=2)
        except Exception:
            return
        new, opened, opened_rows = 0, 0, 0
        for i, st in enumerate(stats):
            seen = self.rows_seen[i]
            new += max(0, st["rows_done"] - seen[0])
            opened += max(0, st["shards_opened"] - seen[1])
            opened_rows += max(0, st["rows_opened"] - seen[2])
            self.rows_seen[i] = (st["rows_done"], st["shards_opened"], st["rows_opened"])
        progress.shard_opened(opened_rows, opened)
        progress.add_rows(new)

    def alive(self) -> int:
        return sum(a is not None for a in self.actors)

    def shutdown(self, teardown: bool = True) -> None:
        """Tear every stage down (engines freed), then kill the actors."""
        import ray

        live = [a for a in self.actors if a is not None]
        if teardown and live:
            try:
                ray.get([a.teardown.remote() for a in live], timeout=60)
            except Exception as e:
                log.warning("teardown of %s actors: %s", self.stage_name, one_line(e))
        for a in live:
            try:
                ray.kill(a, no_restart=True)
            except Exception:
                pass


def _drive(plan: PassPlan, pool: ActorPool, summary: JobSummary, inflight: dict) -> None:
    import ray
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

    job = plan.job
    queue = deque(plan.todo)
    per_actor: dict[int, deque] = defaultdict(deque)  # refs in submission order
    suspects: set[str] = set()  # on an actor that died with other shards: run alone until settled
    progress = Progress(len(plan.todo), enabled=job.progress, what=plan.pass_.stage.name)
    progress.started()  # the pool is up
    ledger = ShardLedger(summary, job.max_shard_attempts, progress)
    last_poll = time.monotonic()

    def retry_or_fail(shard, reason: str) -> None:
        if ledger.attempt_failed(shard.rel, reason, pool.alive()):
            queue.appendleft(shard)

    def may_take(i: int) -> bool:
        on = per_actor[i]
        if not queue or len(on) >= job.shards_in_flight_per_actor:
            return False
        alone = any(inflight[r][0].rel in suspects for r in on) or queue[0].rel in suspects
        return not (alone and on)

    try:
        while queue or inflight:
            for i in range(len(pool.actors)):
                while may_take(i):
                    shard = queue.popleft()
                    side = plan.side_of(shard)
                    ref = pool.actors[i].run.remote(shard.to_dict(), side and side.to_dict(), pool.calls[i])
                    pool.calls[i] += 1  # numbered: the actor runs them in this order
                    inflight[ref] = (shard, i, pool.generation[i])
                    per_actor[i].append(ref)
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=2.0)
            if job.progress and time.monotonic() - last_poll >= 2.0:
                pool.poll_rows(progress)
                last_poll = time.monotonic()
            for ref in ready:
                shard, i, gen = inflight.pop(ref)
                submitted = list(per_actor[i])  # this actor's calls, oldest first (ref among them)
                if ref in per_actor[i]:
                    per_actor[i].remove(ref)
                try:
                    report = ray.get(ref)
                except (ActorDiedError, ActorUnavailableError, RayActorError) as e:
                    if gen != pool.generation[i]:
                        queue.appendleft(shard)  # queued on an actor already replaced: no penalty
                        continue
                    lost = [shard if r is ref else inflight.pop(r)[0] for r in (submitted or [ref])]
                    per_actor[i].clear()
                    started = pool.started(i)
                    pool.replace(i)
                    if not started:  # it died setting up: no shard ran on it, none is charged
                        _died_starting(pool, i, lost, one_line(e), queue)
                        continue
                    pool.start_deaths[i] = 0
                    _actor_died(plan, i, lost, one_line(e), ledger, queue, retry_or_fail, pool.alive(), suspects)
                    continue
                except Exception as e:
                    suspects.discard(shard.rel)
                    retry_or_fail(shard, one_line(e))
                    continue
                suspects.discard(shard.rel)
                ledger.settle(shard.rel, report, pool.alive())
    finally:
        progress.close()


#: Replacements of one actor that may die while starting, in a row, before the pass gives up.
MAX_START_DEATHS = 3


def _died_starting(pool: ActorPool, i: int, lost: list, reason: str, queue: deque) -> None:
    """An actor that died before its stage was set up ran none of the shards queued on it: they go
    back uncharged. A pool whose replacements keep dying while starting stops the pass (one line)."""
    pool.start_deaths[i] += 1
    if pool.start_deaths[i] >= MAX_START_DEATHS:
        raise ClusterError(f"{pool.stage_name} actor {i} died while starting {pool.start_deaths[i]} times in a "
                           f"row: {reason}")
    log.warning("actor %d died while starting (%s); %d queued shard(s) go back uncharged", i, reason, len(lost))
    queue.extendleft(reversed(lost))


def _actor_died(plan: PassPlan, i: int, lost: list, reason: str, ledger: ShardLedger, queue: deque,
                retry_or_fail, alive: int, suspects: set[str]) -> None:
    """Settle the shards that were on an actor when it died (`lost`, oldest first).

    A shard whose manifest is already committed is done: the actor can die between committing a
    shard and its reply reaching the driver, and that reply is lost with it. Of the rest: one shard
    alone on the actor was the one running and is charged an attempt. Several streamed together
    (the next shard reads, decodes and scores while the one before it finishes), so any of them
    could have killed it: none is charged, all go back as suspects, which run alone from then on,
    so the next death names its shard.
    """
    pending = []
    for s in lost:
        m = plan.committed_manifest(s)
        if m is None:
            pending.append(s)
            continue
        suspects.discard(s.rel)
        log.warning("actor %d died after committing %s; counted as done", i, shown(s.rel))
        ledger.settle(s.rel, {"ok": True, "rows_by_status": m.get("rows_by_status", {}),
                              "rows_out": m.get("rows_out", 0),
                              "renamed_input_columns": m.get("renamed_input_columns") or {}}, alive)
    if not pending:
        return
    if len(pending) > 1:
        log.warning("actor %d died with %d shards on it (%s): %s; replacing it and retrying them one at a time, "
                    "uncharged", i, len(pending), ", ".join(shown(s.rel) for s in pending), reason)
        suspects.update(s.rel for s in pending)
        queue.extendleft(reversed(pending))
        return
    log.warning("actor %d died on shard %s: %s; replacing it", i, shown(pending[0].rel), reason)
    retry_or_fail(pending[0], f"actor died: {reason}")
