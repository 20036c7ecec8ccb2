"""The rank barrier: before a reduce step, wait until every rank has committed its shards.

A `Reduce` reads the committed shards of the passes before it over the whole dataset, but with N
drivers (`runner.world_size`) each ran only its share (`agiqa.runner.ranks`). So before a reduce
runs, a rank waits, polling with backoff and logging whom it waits for, until every shard of
every preceding pass, over the full listing, is committed for the identity that pass has now
(planning's own check: `manifest.is_committed`). Then every rank computes the reduce itself: it
is deterministic over the same committed shards, so all ranks get the same result and build the
same stages from it. After `job.rank_wait_s` the rank stops with one line naming the missing
ranks and shards.

A rank's own shards that are still uncommitted when it reaches the barrier failed in this run:
waiting cannot bring them, so it goes on without them, as one driver would (its job exits 1); the
other ranks wait for them, and run again once that rank's rerun commits them.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from agiqa.errors import RanksError
from agiqa.runner.job import Pass, Reduce, ShardJob
from agiqa.runner.ranks import rank_of, rank_tag
from agiqa.storage.names import shown

log = logging.getLogger(__name__)

FIRST_POLL_S = 0.5
MAX_POLL_S = 30.0
SAY_EVERY_S = 60.0  # a line while waiting for the same shards, at least this often


def wait_for_ranks(job: ShardJob, step: Reduce, results: dict, sleep=time.sleep, clock=time.monotonic) -> None:
    """Return once every preceding pass's shards of the other ranks are committed (world_size 1: at once)."""
    if job.world_size <= 1:
        return
    me = rank_tag(job.rank, job.world_size)
    passes = _passes_before(job, step, results)
    t0, poll, said, said_at = clock(), FIRST_POLL_S, None, 0.0
    own_told: set[tuple[str, str]] = set()
    done: dict[int, set[str]] = {i: set() for i in range(len(passes))}  # committed at an earlier poll: not read again
    while True:
        missing: list[tuple[Pass, str]] = []
        for i, p in enumerate(passes):
            for rel in uncommitted(job, p, done[i]):
                if rank_of(rel, job.world_size) != job.rank:
                    missing.append((p, rel))
                elif (p.output, rel) not in own_told:
                    own_told.add((p.output, rel))
                    log.warning("%s: its shard %s of pass %s is not committed (it failed in this run); reduce %s "
                                "goes on without it, the other ranks wait for it: rerun this rank",
                                me, shown(rel), p.stage.name, step.name)
        if not missing:
            if said is not None:
                log.info("%s: every rank's shards are committed; reduce %s runs", me, step.name)
            return
        waited = clock() - t0
        ranks = sorted({rank_of(rel, job.world_size) for _, rel in missing})
        p, rel = missing[0]
        who = (f"{len(missing)} shard(s) of pass {p.stage.name} from rank(s) {', '.join(map(str, ranks))} "
               f"of {job.world_size} (first: {shown(rel)})")
        if waited >= job.rank_wait_s:
            raise RanksError(f"{me}: waited {waited:.0f} s before reduce {step.name} for {who}; start or rerun "
                             "those ranks (this one's committed shards are kept), or raise runner.rank_wait_s")
        if said != who or clock() - said_at >= SAY_EVERY_S:
            log.info("%s: before reduce %s, waiting for %s (%.0f s so far, up to %.0f s)", me, step.name, who,
                     waited, job.rank_wait_s)
            said, said_at = who, clock()
        sleep(min(poll, max(0.0, job.rank_wait_s - waited)))
        poll = min(poll * 1.5, MAX_POLL_S)


def _passes_before(job: ShardJob, step: Reduce, results: dict) -> list[Pass]:
    """The passes before `step`, each with the stage it has now (factories built from `results`)."""
    index = next(i for i, s in enumerate(job.passes) if s is step)
    resolved = [s.resolved(results) for s in job.passes[:index] if isinstance(s, Pass)]
    return [p for p in resolved if p is not None]  # a pass whose factory gave no stage did not run


def uncommitted(job: ShardJob, p: Pass, known: set[str] | None = None) -> list[str]:
    """Relative names, over every rank's share, of the shards of pass `p` not committed for its
    current stage identity and its inputs as they are (planning's check, on the full listing).
    Shards in `known` were seen committed before and are not read again; the ones found committed
    now are added to it (a million manifests are read once, not once per poll)."""
    from agiqa.runner.manifest import find_manifest, identity_hash, is_committed
    from agiqa.runner.plan import manifest_locations, refusal
    from agiqa.storage.layout import data_shards
    from agiqa.storage.uri import is_s3

    in_store, out_store = job.open_store(p.input, job.storage), job.open_store(p.output, job.storage)
    known = set() if known is None else known
    listed = [s for s in data_shards(in_store, p.input) if not refusal(s) and s.rel not in known]
    sides = {}
    if p.side_input:
        sides = {s.rel: s for s in job.open_store(p.side_input, job.storage).list_shards(p.side_input)}
    want = identity_hash(p.stage.identity())
    locations = manifest_locations(out_store, p.output)  # as planning: a few listings, then only those read
    with ThreadPoolExecutor(max_workers=32, thread_name_prefix="agiqa-ranks") as pool:
        each = pool.map if is_s3(p.output) else map
        found = list(each(lambda s: find_manifest(out_store, p.output, s, locations)[0], listed))
    missing = []
    for s, m in zip(listed, found, strict=True):
        if is_committed(m, want, s, sides.get(s.rel) if p.side_input else None):
            known.add(s.rel)
        else:
            missing.append(s.rel)
    return missing
