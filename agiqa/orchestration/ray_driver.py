"""The Ray driver: plan shards, feed the scorer actors, replace dead ones, retry, summarise.

Failure handling, by kind:
- an actor dies (process killed, node lost, out of memory): it is replaced; the shard it was
  running counts one attempt and goes back in the queue; shards merely queued on it go back
  without penalty;
- the processor raises on a shard (engine error): one attempt, back in the queue;
- the shard itself is bad (not Parquet, missing column): failed at once, with the reason;
- a shard that used up `max_shard_attempts` is recorded failed; the job goes on.
Because outputs are committed with manifests, a driver killed mid-job loses only the shards in
flight: a rerun skips everything committed.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict, deque

from agiqa.orchestration.job import start_job
from agiqa.orchestration.progress import Progress
from agiqa.orchestration.ray_actor import ScorerActor, test_env
from agiqa.orchestration.summary import JobSummary

log = logging.getLogger(__name__)


def connect(cfg) -> None:
    import ray

    if ray.is_initialized():
        return
    address = cfg.ray.address or os.environ.get("RAY_ADDRESS")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if address:
        ray.init(address=address, log_to_driver=True)
    else:
        log.info("no Ray address given: starting a local Ray")
        ray.init(include_dashboard=False, log_to_driver=True)


def actor_shape(cfg) -> tuple[int, float, float]:
    """(actors, GPUs each, CPUs each) for this cluster and config."""
    import ray

    res = ray.cluster_resources()
    gpus, cpus = float(res.get("GPU", 0)), float(res.get("CPU", 1))
    if gpus > 0 and cfg.ray.num_gpus_per_actor > 0:
        n = cfg.ray.num_actors or max(1, int(gpus / cfg.ray.num_gpus_per_actor))
        return n, cfg.ray.num_gpus_per_actor, cfg.ray.num_cpus_per_actor
    n = cfg.ray.num_actors or 1
    return n, 0.0, max(cfg.ray.num_cpus_per_actor, float(int(cpus // n)) or 1.0)


def run_on_ray(cfg, factory: str | None = None) -> JobSummary:
    t0 = time.perf_counter()
    job = start_job(cfg, "ray")
    out_store, todo, summary = job.out_store, job.todo, job.summary
    if todo:
        connect(cfg)
        n, gpus, cpus = actor_shape(cfg)
        n = min(n, len(todo))
        summary.actors = n
        pool = ActorPool(cfg, factory, n, gpus, cpus)
        summary.startup_s = time.perf_counter() - t0
        try:
            _drive(cfg, pool, todo, summary, out_store)
            summary.shards_prefetched = pool.prefetched()
        finally:
            pool.shutdown()
            summary.actor_restarts = pool.restarts
    summary.wall_s = time.perf_counter() - t0
    summary.write(out_store, cfg.output)
    return summary


class ActorPool:
    def __init__(self, cfg, factory, n: int, gpus: float, cpus: float):
        import ray

        self.cfg_dict = cfg.model_dump()
        self.factory = factory
        env = {"OMP_NUM_THREADS": str(int(max(cpus, 1))), **test_env()}
        self.remote_cls = ray.remote(ScorerActor)
        # Threads: one per queued `score` call (each opens its shard, then waits for the engine).
        self.options = dict(num_gpus=gpus, num_cpus=cpus, max_restarts=0, runtime_env={"env_vars": env},
                            max_concurrency=cfg.ray.shards_in_flight_per_actor + 2)
        self.actors: list = [None] * n
        self.generation = [0] * n
        self.calls = [0] * n  # score calls made on each actor's current generation
        self.restarts = 0
        for i in range(n):
            self.start(i)
        try:  # surface construction errors (bad model, bad adapter) once, clearly
            ray.get([a.ready.remote() for a in self.actors])
        except Exception as e:
            self.shutdown()
            raise RuntimeError(f"scorer actors failed to start: {_reason(e)}") from None

    def start(self, i: int) -> None:
        self.generation[i] += 1
        self.calls[i] = 0
        name = f"agiqa-scorer-{i}-g{self.generation[i]}-{os.getpid()}"
        self.actors[i] = self.remote_cls.options(name=name, **self.options).remote(self.cfg_dict, self.factory)

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

    def alive(self) -> int:
        return sum(a is not None for a in self.actors)

    def shutdown(self) -> None:
        import ray

        for a in self.actors:
            if a is not None:
                try:
                    ray.kill(a, no_restart=True)
                except Exception:
                    pass


def _drive(cfg, pool: ActorPool, todo, summary: JobSummary, out_store) -> None:
    import ray
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

    queue = deque(todo)
    attempts: dict[str, int] = defaultdict(int)
    reasons: dict[str, list[str]] = defaultdict(list)
    inflight: dict = {}  # ref -> (shard, actor index, actor generation)
    per_actor: dict[int, deque] = defaultdict(deque)  # refs in submission order
    limit = cfg.ray.shards_in_flight_per_actor
    progress = Progress(len(todo), enabled=cfg.progress)

    def fail_or_requeue(shard, reason: str) -> None:
        attempts[shard.rel] += 1
        reasons[shard.rel].append(reason)
        if attempts[shard.rel] >= cfg.ray.max_shard_attempts:
            summary.failed.append({"shard": shard.rel, "reason": "; ".join(reasons[shard.rel]),
                                   "attempts": attempts[shard.rel]})
            progress.update(0, pool.alive())
        else:
            queue.appendleft(shard)

    while queue or inflight:
        for i in range(len(pool.actors)):
            while queue and len(per_actor[i]) < limit:
                shard = queue.popleft()
                ref = pool.actors[i].score.remote(shard.to_dict(), pool.calls[i])  # numbered: run in order
                pool.calls[i] += 1
                inflight[ref] = (shard, i, pool.generation[i])
                per_actor[i].append(ref)
        ready, _ = ray.wait(list(inflight), num_returns=1, timeout=5.0)
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
                pool.replace(i)
                _actor_died(cfg, out_store, i, lost, _reason(e), summary, queue, fail_or_requeue, progress)
                continue
            except Exception as e:
                log.warning("shard %s failed: %s", shard.rel, _reason(e))
                fail_or_requeue(shard, _reason(e))
                continue
            if report["ok"]:
                summary.rows_ok += report["rows_ok"]
                summary.rows_error += report["rows_error"]
                summary.shards_done += 1
                progress.update(report["rows_out"], pool.alive())
            else:
                summary.failed.append({"shard": shard.rel, "reason": report["error"], "attempts": 1})
                progress.update(0, pool.alive())
    progress.close()


def _actor_died(cfg, out_store, i: int, lost: list, reason: str, summary: JobSummary, queue: deque,
                fail_or_requeue, progress: Progress) -> None:
    """Settle the shards that were on an actor when it died (`lost`, oldest first).

    A shard whose manifest is already committed is done: the actor can die between committing a
    shard and its reply reaching the driver, and that reply is lost with it. Calls run in order,
    so the oldest shard not committed was running and is charged an attempt; the shards behind it
    were only queued and go back without penalty.
    """
    from agiqa.pipeline.shards import committed_manifest

    pending = []
    for s in lost:
        m = committed_manifest(cfg, out_store, s)
        if m is None:
            pending.append(s)
            continue
        log.warning("actor %d died after committing %s; counted as done", i, s.rel)
        summary.rows_ok += m.get("rows_ok", 0)
        summary.rows_error += m.get("rows_error", 0)
        summary.shards_done += 1
        progress.update(m.get("rows_out", 0))
    if not pending:
        return
    running, queued = pending[0], pending[1:]
    log.warning("actor %d died on shard %s: %s; replacing it", i, running.rel, reason)
    queue.extendleft(reversed(queued))
    fail_or_requeue(running, f"actor died: {reason}")


def _reason(e: Exception) -> str:
    """The innermost error's one-line message (Ray wraps task errors with long tracebacks)."""
    cause = getattr(e, "cause", None) or e.__cause__
    if cause is not None and cause is not e:
        return f"{type(cause).__name__}: {cause}"
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[-1] if text else ''}"
