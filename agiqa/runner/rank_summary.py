"""The summary of a job split over N drivers: one per rank, merged into `job_summary.json`.

Each rank writes its own summary to the state root as `job_summary.rank-R-of-N.json` (and its
run's record in `runs/`, as one driver does), with the job's identity (`lease.job_identity`:
never the rank). The rank that finds every other rank's summary there for the same identity
merges them into `job_summary.json`: counts summed, failures listed with their rank, times the
longest rank's. Ranks that finish at once both merge the same files into the same bytes.
`agiqa summary OUTPUT` (`agiqa.commands.summary`) merges them on demand, refusing while a rank is
missing.
"""

from __future__ import annotations

import logging
import os
import socket
import time

from agiqa.errors import RanksError
from agiqa.runner.ranks import rank_tag
from agiqa.runner.summary import RUNS_DIR, SUMMARY_NAME, JobSummary

log = logging.getLogger(__name__)

RANK_SUMMARY_PREFIX = "job_summary.rank-"
#: Summed over ranks; the other fields are the same for every rank (or, for times, the longest).
SUMMED = ("shards_total", "shards_done", "shards_skipped", "actors", "actor_restarts", "shards_prefetched")


def rank_summary_name(rank: int, world_size: int) -> str:
    return f"job_summary.{rank_tag(rank, world_size)}.json"


def write_rank_summary(store, job, summary: JobSummary) -> str:
    """This rank's summary (and its run record); then the merged one if every rank's is there.
    Returns the URI of the merged summary when it was written, else this rank's."""
    from agiqa.runner.lease import job_identity
    from agiqa.storage.layout import state_uri

    data = {**summary.to_json(), "rank": job.rank, "world_size": job.world_size, "job_identity": job_identity(job),
            "host": socket.gethostname(), "pid": os.getpid()}
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(summary.started_at))
    tag = rank_tag(job.rank, job.world_size)
    store.write_json(state_uri(job.output, f"{RUNS_DIR}/{stamp}-{os.getpid()}.{tag}.json"), data)
    mine = state_uri(job.output, rank_summary_name(job.rank, job.world_size))
    store.write_json(mine, data)
    try:
        merged = merge_rank_summaries(store, job.output, job.world_size)
    except RanksError as e:
        log.info("%s: summary written to %s; the job's %s is merged by the last rank to finish (%s)",
                 tag, mine, SUMMARY_NAME, e)
        return mine
    uri = state_uri(job.output, SUMMARY_NAME)
    store.write_json(uri, merged)
    log.info("%s: every rank has finished: their summaries merged into %s", tag, uri)
    return uri


def read_rank_summaries(store, output: str, world_size: int | None = None) -> tuple[int, dict[int, dict]]:
    """(world size, rank -> summary) of the rank summaries in `output`'s state root; the world size
    is the one given, else the only one there (RanksError when there are none, or several)."""
    import re

    from agiqa.storage.layout import state_root
    from agiqa.storage.state_files import state_files_named

    found: dict[int, dict[int, str]] = {}
    for uri in state_files_named(store, output, RANK_SUMMARY_PREFIX):
        m = re.search(r"job_summary\.rank-(\d+)-of-(\d+)\.json$", uri)
        if m:
            found.setdefault(int(m.group(2)), {})[int(m.group(1))] = uri
    if world_size is None:
        if not found:
            raise RanksError(f"no rank summaries (job_summary.rank-R-of-N.json) in {state_root(output)}: was the "
                             "job run with --world-size?")
        if len(found) > 1:
            raise RanksError(f"rank summaries of several world sizes ({', '.join(map(str, sorted(found)))}) in "
                             f"{state_root(output)}: name one with --world-size")
        world_size = next(iter(found))
    uris = found.get(world_size, {})
    return world_size, {r: d for r, uri in sorted(uris.items()) if r < world_size
                        and (d := store.read_json(uri)) is not None}


def merge_rank_summaries(store, output: str, world_size: int | None = None) -> dict:
    """The job's summary merged from every rank's; RanksError naming what is missing or mixed."""
    from agiqa.storage.layout import state_root

    world_size, by_rank = read_rank_summaries(store, output, world_size)
    missing = [r for r in range(world_size) if r not in by_rank]
    if missing:
        raise RanksError(f"rank(s) {', '.join(map(str, missing))} of {world_size} have no summary in "
                         f"{state_root(output)} yet (still running, or not started)")
    identities = {d.get("job_identity") for d in by_rank.values()}
    if len(identities) > 1:
        odd = [r for r, d in by_rank.items() if d.get("job_identity") != by_rank[0].get("job_identity")]
        raise RanksError(f"the rank summaries in {state_root(output)} are of different jobs (rank(s) "
                         f"{', '.join(map(str, odd))} differ from rank 0's settings): rerun those ranks")
    return merge(by_rank)


def merge(by_rank: dict[int, dict]) -> dict:
    """One job summary from the ranks' (rank -> summary JSON), as `JobSummary.to_json` writes it."""
    from dataclasses import fields

    ranks = [by_rank[r] for r in sorted(by_rank)]
    first = ranks[0]
    names = {f.name for f in fields(JobSummary)}
    s = JobSummary(**{k: v for k, v in first.items() if k in names})
    for k in SUMMED:
        setattr(s, k, sum(int(d.get(k, 0)) for d in ranks))
    s.failed = [{**f, "rank": d["rank"]} for d in ranks for f in d.get("failed", [])]
    s.rows_by_status = _sum_counts(d.get("rows_by_status", {}) for d in ranks)
    s.wall_s = max(float(d.get("wall_s", 0)) for d in ranks)
    s.startup_s = max(float(d.get("startup_s", 0)) for d in ranks)
    s.started_at = min(float(d.get("started_at", 0)) for d in ranks)
    s.passes = [_merge_pass([d["passes"][i] for d in ranks if i < len(d.get("passes", []))])
                for i in range(max(len(d.get("passes", [])) for d in ranks))]
    s.orphaned = {out: sorted({rel for d in ranks for rel in d.get("orphaned", {}).get(out, [])})
                  for out in dict.fromkeys(o for d in ranks for o in d.get("orphaned", {}))}
    s.write_error = None
    out = {**s.to_json(), "world_size": first["world_size"], "job_identity": first.get("job_identity"),
           "ranks": [{k: d.get(k) for k in ("rank", "host", "pid", "shards_done", "shards_skipped", "shards_failed",
                                             "wall_s", "started_at")} for d in ranks]}
    if any(d.get("reduced") != first.get("reduced") for d in ranks):  # a rank reduced without its failed shards
        out["reduced_by_rank"] = {str(d["rank"]): d.get("reduced") for d in ranks}
    return out


def _merge_pass(items: list[dict]) -> dict:
    out = dict(items[0])
    for k in ("shards_total", "shards_skipped", "shards_done"):
        out[k] = sum(int(p.get(k, 0)) for p in items)
    out["rows_by_status"] = _sum_counts(p.get("rows_by_status", {}) for p in items)
    damaged = {k: v for p in items for k, v in p.get("redone_damaged", {}).items()}
    if damaged:
        out["redone_damaged"] = dict(sorted(damaged.items()))
    return out


def _sum_counts(counts) -> dict[str, int]:
    total: dict[str, int] = {}
    for c in counts:
        for k, n in c.items():
            total[k] = total.get(k, 0) + int(n)
    return dict(sorted(total.items()))
