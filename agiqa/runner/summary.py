"""The job summary: what was done, skipped and failed (with reasons), printed and written as JSON."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

#: In the output's state root (`agiqa.storage.layout`): the latest run's summary, and every run's.
SUMMARY_NAME = "job_summary.json"
RUNS_DIR = "runs"


class RowCounts:
    """`rows_ok` and `rows_error` read off a `rows_by_status` mapping (a shard's or a job's)."""

    rows_by_status: dict[str, int]

    @property
    def rows_ok(self) -> int:
        return self.rows_by_status.get("ok", 0)

    @property
    def rows_error(self) -> int:
        return self.rows_by_status.get("error", 0)


@dataclass
class JobSummary(RowCounts):
    shards_total: int = 0
    shards_done: int = 0
    shards_skipped: int = 0
    failed: list[dict] = field(default_factory=list)  # {shard, reason, attempts}
    rows_by_status: dict[str, int] = field(default_factory=dict)  # ok, error, and any status a stage adds
    wall_s: float = 0.0
    startup_s: float = 0.0  # until the engine(s) were ready: model load, actor start
    runner: str = "local"
    actors: int = 1
    actor_restarts: int = 0
    shards_prefetched: int = 0  # first batch prepared before the shard before it had finished
    identity_hash: str = ""  # of the last pass's stage (what its manifests carry)
    stages: list[str] = field(default_factory=list)
    #: One entry per pass: {stage, output, shards_total, shards_skipped, shards_done, rows_by_status}.
    #: The top-level row counts are the last pass's (the job's result), so a multi-pass job counts each
    #: row once there; each pass's own routes are here.
    passes: list[dict] = field(default_factory=list)
    #: Results of the job's reduce steps (thresholds, cutoffs), by name.
    reduced: dict[str, dict] = field(default_factory=dict)
    #: Committed shards whose input shard is gone (kept as they are), by pass output.
    orphaned: dict[str, list[str]] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    #: Why the summary could not be written beside the output (e.g. no space left), else None.
    write_error: str | None = None

    @property
    def shards_failed(self) -> int:
        return len(self.failed)

    @property
    def rows(self) -> int:
        return sum(self.rows_by_status.values())

    @property
    def all_rows_failed(self) -> bool:
        """Rows were read and none came out well: a job that did nothing useful, not "done"."""
        return self.rows > 0 and self.rows_error == self.rows

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s > 0 else 0.0

    def begin_pass(self, stage: str, output: str, shards_total: int, shards_skipped: int,
                   input_handling: str | None = None) -> None:
        self.rows_by_status = {}
        self.passes.append({"stage": stage, "output": output, "shards_total": shards_total,
                            "shards_skipped": shards_skipped, "shards_done": 0, "rows_by_status": {},
                            **({"input_handling": input_handling} if input_handling else {})})

    def add_rows(self, rows_by_status: dict[str, int]) -> None:
        targets = [self.rows_by_status] + ([self.passes[-1]["rows_by_status"]] if self.passes else [])
        for counts in targets:
            for status, n in rows_by_status.items():
                counts[status] = counts.get(status, 0) + n

    def add_renames(self, renames: dict[str, str]) -> dict[str, str]:
        """Record a committed shard's renamed input columns in its pass (`renamed_input_columns`); returns
        those new to the pass (so a pass logs each rename once, not once per shard)."""
        if not self.passes or not renames:
            return {}
        seen = self.passes[-1].setdefault("renamed_input_columns", {})
        new = {old: name for old, name in renames.items() if seen.get(old) != name}
        seen.update(new)
        return new

    def shard_done(self) -> None:
        self.shards_done += 1
        if self.passes:
            self.passes[-1]["shards_done"] += 1

    def to_json(self) -> dict:
        d = asdict(self)
        d.update(shards_failed=self.shards_failed, rows_ok=self.rows_ok, rows_error=self.rows_error,
                 rows_per_s=round(self.rows_per_s, 3))
        return d

    def table(self) -> str:
        """The summary for a terminal; names and reasons with control characters are repr-quoted, so a
        shard named `x\n  FAILED ...` shows as one quoted name, never as a line of its own."""
        from agiqa.storage.names import shown

        rows = [
            ("shards", f"{self.shards_total} total: {self.shards_done} done, {self.shards_skipped} skipped "
                       f"(already committed), {self.shards_failed} failed"),
            ("rows", ", ".join(f"{n} {s}" for s, n in sorted(self.rows_by_status.items())) or "0"),
            ("speed", f"{self.rows_per_s:.2f} rows/s over {self.wall_s:.1f} s ({self.startup_s:.1f} s start-up)"),
            ("runner", f"{self.runner}, {self.actors} actor(s), {self.actor_restarts} actor restart(s)"),
        ]
        if len(self.passes) > 1:
            rows += [(f"pass {i + 1}", f"{p['stage']}: {p['shards_done']} shard(s) done, {p['shards_skipped']} skipped; "
                      + (", ".join(f"{n} {s}" for s, n in sorted(p["rows_by_status"].items())) or "0 rows"))
                     for i, p in enumerate(self.passes)]
        for i, p in enumerate(self.passes):
            which = f"pass {i + 1} ({p['stage']}): " if len(self.passes) > 1 else ""
            if renamed := p.get("renamed_input_columns"):
                rows.append(("renamed", which + "input column(s) " + ", ".join(
                    f"{shown(old)} -> {shown(new)}" for old, new in renamed.items()) + " (the stage writes those names)"))
            if damaged := p.get("redone_damaged"):
                rel, why = next(iter(damaged.items()))
                rows.append(("redone", f"{which}{len(damaged)} committed shard(s) done again, their outputs not as "
                                       f"committed (first: {shown(rel)}: {shown(why)})"))
        rows += [(f"reduce {name}", _brief(result)) for name, result in self.reduced.items()]
        rows += [("orphans", f"{len(rels)} committed shard(s) under {out} have no input shard any more "
                             f"(kept): {', '.join(map(repr, rels[:3]))}{' ...' if len(rels) > 3 else ''}")
                 for out, rels in self.orphaned.items()]
        lines = ["job summary", "-" * 11] + [f"  {k:7s} {v}" for k, v in rows]
        for f in self.failed:
            lines.append(f"  FAILED  {shown(f['shard'])} after {f['attempts']} attempt(s): {shown(f['reason'])}")
        if self.write_error:
            lines.append(f"  ERROR   the summary was not written: {self.write_error}")
        if self.all_rows_failed:
            lines.append(f"  FAILED  every one of the {self.rows} rows read has status=error (see the `error` column)")
        return "\n".join(lines)

    def write(self, out_store, output_root: str) -> str:
        """The summary as the output's latest (`job_summary.json`) and as this run's own record
        (`runs/<start time>-<pid>.json`): a rerun that skips everything keeps the record of the run
        that did the work."""
        import os

        from agiqa.storage.layout import state_uri

        data = self.to_json()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.started_at))
        out_store.write_json(state_uri(output_root, f"{RUNS_DIR}/{stamp}-{os.getpid()}.json"), data)
        uri = state_uri(output_root, SUMMARY_NAME)
        out_store.write_json(uri, data)
        return uri

    @staticmethod
    def dumps(d: dict) -> str:
        return json.dumps(d, indent=2, sort_keys=True)


def _brief(result: dict) -> str:
    text = json.dumps(result, sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "..."
