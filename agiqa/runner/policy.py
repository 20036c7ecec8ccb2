"""The one failure policy of every runner: how failures are classified, attempts counted, and the
summary kept.

- The shard itself is bad (not Parquet, a required column missing): failed at once, with the
  reason; retrying cannot help.
- The stage raised, or its actor died while running the shard: one attempt charged; the shard is
  tried again until `max_attempts`, then recorded failed with every reason. The job goes on.
- Shards merely queued on an actor that died are not charged (the Ray driver knows which).
"""

from __future__ import annotations

import logging
from collections import defaultdict

from agiqa.runner.progress import Progress
from agiqa.runner.stage import is_partial
from agiqa.runner.summary import JobSummary
from agiqa.storage.names import shown

log = logging.getLogger(__name__)


def record_plan(summary: JobSummary, plan) -> None:
    """A pass's plan in the summary: shards found, already committed, refused (unsafe names)."""
    total = len(plan.todo) + len(plan.skipped) + len(plan.refused)
    summary.shards_total += total
    summary.shards_skipped += len(plan.skipped)
    summary.begin_pass(plan.pass_.stage.name, plan.pass_.output, total, len(plan.skipped),
                       getattr(plan.pass_.stage, "input_handling", None))
    if is_partial(plan.pass_.stage):
        summary.passes[-1]["partial"] = True
    summary.identity_hash, summary.stages = plan.identity_hash, [*summary.stages, plan.pass_.stage.name]
    # a reduce's partial passes leave refusals to the pass over the rows, which reports them once
    for shard, why in [] if is_partial(plan.pass_.stage) else plan.refused:
        log.warning("shard %s refused: %s", shown(shard.rel), why)
        summary.failed.append({"shard": shard.rel, "reason": f"refused: {why}", "attempts": 0})
    if plan.redone:
        log.info("%d committed shard(s) under %s redone: their input (or a cutoff) changed since (first: %r)",
                 len(plan.redone), plan.pass_.output, plan.redone[0])
    if plan.damaged:
        summary.passes[-1]["redone_damaged"] = dict(plan.damaged)
        rel, why = next(iter(plan.damaged.items()))
        log.warning("%d committed shard(s) under %s are done again: their outputs are not as committed "
                    "(first: %r: %s)", len(plan.damaged), plan.pass_.output, rel, why)
    if plan.orphaned and not is_partial(plan.pass_.stage):  # a reduce's partials: read by listing, never as data
        summary.orphaned[plan.pass_.output] = plan.orphaned
        log.warning("%d committed shard(s) under %s have no input shard any more (kept; first: %r)",
                    len(plan.orphaned), plan.pass_.output, plan.orphaned[0])


class ShardLedger:
    def __init__(self, summary: JobSummary, max_attempts: int, progress: Progress):
        self.summary, self.max_attempts, self.progress = summary, max_attempts, progress
        self.attempts: dict[str, int] = defaultdict(int)
        self.reasons: dict[str, list[str]] = defaultdict(list)

    def settle(self, rel: str, report: dict, actors_alive: int | None = None) -> None:
        """A shard's attempt returned: committed (`ok`), or a bad shard (failed at once)."""
        if report["ok"]:
            self.summary.shard_done()
            self.summary.add_rows(report["rows_by_status"])
            if new := self.summary.add_renames(report.get("renamed_input_columns") or {}):
                p = self.summary.passes[-1] if self.summary.passes else {}
                log.info("%s: input column(s) renamed, as the %s stage writes columns of the same names: %s",
                         p.get("output", "output"), p.get("stage", "its"), renames_text(new))
            self.progress.shard_done(actors_alive, rows=sum(report["rows_by_status"].values()))
        else:
            self.summary.failed.append({"shard": rel, "reason": report["error"], "attempts": 1 + self.attempts[rel]})
            self.progress.shard_done(actors_alive, failed=True)

    def attempt_failed(self, rel: str, reason: str, actors_alive: int | None = None) -> bool:
        """Charge one attempt; True when the shard should be tried again."""
        log.warning("shard %s failed: %s", shown(rel), shown(reason))
        self.attempts[rel] += 1
        self.reasons[rel].append(reason)
        if self.attempts[rel] < self.max_attempts:
            return True
        self.summary.failed.append({"shard": rel, "reason": _reasons(self.reasons[rel]),
                                    "attempts": self.attempts[rel]})
        self.progress.shard_done(actors_alive, failed=True)
        return False


def renames_text(renames: dict[str, str]) -> str:
    """`status -> input_status, error -> input_error`."""
    return ", ".join(f"{old} -> {new}" for old, new in renames.items())


def _reasons(reasons: list[str]) -> str:
    """Each distinct reason once, in order, with how often it came when more than once."""
    from collections import Counter

    counts = Counter(reasons)
    return "; ".join(r if counts[r] == 1 else f"{r} ({counts[r]} times)" for r in dict.fromkeys(reasons))


def one_line(e: BaseException) -> str:
    """The innermost error's one-line message (Ray wraps task errors with long tracebacks)."""
    cause = getattr(e, "cause", None) or e.__cause__
    if cause is not None and cause is not e:
        return f"{type(cause).__name__}: {cause}"
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[-1] if text else ''}"


def interrupted(plan, summary: JobSummary, in_flight: list, e: BaseException):
    """The `JobInterrupted` for a pass stopped by a signal (`e`) once its workers are stopped: the shards
    committed for this pass, counting those in flight whose commit landed before the stop (their
    replies never came back, their manifests are there)."""
    from agiqa.signals import JobInterrupted, signum_of

    late = sum(plan.committed_manifest(s) is not None for s in in_flight)
    done = summary.passes[-1]["shards_done"] if summary.passes else summary.shards_done
    from agiqa.runner.job import Pass

    passes = [p for p in plan.job.passes if isinstance(p, Pass)]
    return JobInterrupted(signum_of(e), len(plan.skipped) + done + late,
                          len(plan.skipped) + len(plan.todo), plan.pass_.output,
                          plan.pass_.stage.name if len(passes) > 1 else None)
