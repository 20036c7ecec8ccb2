"""Ingest's own parts of its job: planning into work lists, and the report after the runner's pass.

The job itself (`agiqa.workflows.ingest`) is plan -> pass -> duplicate ids:
1. `Planner` (a `Reduce` step, so it runs on the driver under the output's lease) lists the input
   (`inputs.InputView`), makes the format's plan (`plan.py`) and writes one work list per output
   shard (`worklist.py`), rewriting none that is unchanged and deleting those the plan no longer has;
2. the runner's pass runs `agiqa.stages.ingest.IngestStage` over the work lists: each output shard
   exactly once, on Ray or locally, with attempts, manifests and resume;
3. the duplicate-ids reduce (`agiqa.workflows.ids`, bounded memory) reads the outputs' `id` columns.
`build_report` then turns the runner's summary, the plan's skips and the stage's reject records
into the `IngestSummary` written as `<output>.agiqa/ingest-report.json`.

Planning reads everything before writing anything, so a bad setup found while planning (a column
missing, a URL column, duplicate table ids) is refused before a single work list is written.
"""

from __future__ import annotations

import logging

from agiqa.ingest.config import IngestConfig
from agiqa.ingest.report import IngestSummary, Skip
from agiqa.storage.layout import work_root

log = logging.getLogger(__name__)

WORK_NAME = "ingest"  # the work lists: <output>.agiqa/work/ingest/


def worklist_root(output: str) -> str:
    return work_root(output, WORK_NAME)


class Planner:
    """The planning step: `Reduce("ingest_plan", planner)`; keeps the plan for the report."""

    def __init__(self, cfg: IngestConfig, open_store):
        self.cfg, self.open_store = cfg, open_store
        self.plan = None
        self.refused: list[Skip] = []

    def __call__(self, ctx=None) -> dict:
        from agiqa.ingest.inputs import InputView
        from agiqa.ingest.plan import plan_ingest
        from agiqa.ingest.worklist import remove_stale, write_worklist

        cfg = self.cfg
        in_store = InputView(self.open_store(cfg.input, cfg.storage), cfg.input, cfg.follow_symlinks)
        self.plan = plan_ingest(cfg, in_store)
        self.refused = list(in_store.refused)
        out_store, root = self.open_store(cfg.output, cfg.storage), worklist_root(cfg.output)
        written = sum(write_worklist(out_store, root, s.rel, s.table) for s in self.plan.shards)
        stale = remove_stale(out_store, root, {s.rel for s in self.plan.shards})
        return {"format": self.plan.format, "shards": len(self.plan.shards), "worklists_written": written,
                "worklists_removed": len(stale), "rows": sum(s.table.num_rows for s in self.plan.shards),
                "skipped": len(self.refused) + len(self.plan.skipped)}

    def committed_rels(self, ctx) -> list[str]:
        """The planned output shards that are there to read (the duplicate-ids step reads these)."""
        from agiqa.storage.uri import join

        store = ctx.store(self.cfg.output)
        return [s.rel for s in self.plan.shards if store.exists(join(self.cfg.output, s.rel))]


def build_report(cfg: IngestConfig, planner: Planner, job_summary, identity_hash: str, open_store,
                 seconds: float) -> IngestSummary:
    """The ingest summary from the run: shards by outcome, rows in every committed shard (earlier runs'
    too), every skip (listing, planning, and the stage's bad rows of committed shards), duplicate ids."""
    from agiqa.ingest.report import REPORT_NAME
    from agiqa.storage.layout import state_uri

    plan = planner.plan
    out_store = open_store(cfg.output, cfg.storage)
    summary = IngestSummary(cfg.input, cfg.output, plan.format, shards_total=len(plan.shards))
    summary.shards_written = job_summary.shards_done
    summary.shards_already_done = job_summary.shards_skipped
    summary.shards_failed = {f["shard"]: f["reason"] for f in job_summary.failed}
    summary.skipped.extend(planner.refused + plan.skipped)
    etags = _worklist_etags(out_store, cfg.output)
    records = _reject_records(out_store, cfg.output)
    manifests = _in_parallel(lambda shard: _manifest(out_store, cfg.output, shard.rel), plan.shards)
    for shard, m in zip(plan.shards, manifests, strict=True):
        if not m or m.get("identity_hash") != identity_hash or (m.get("input") or {}).get("etag") != etags.get(
                shard.rel):
            continue
        summary.rows_written += int((m.get("rows_by_status") or {}).get("ok", 0))
        seen: set = set()  # records of one work list and identity agree; each bad row reported once
        for rec in records.get(shard.rel, []):
            if rec.get("worklist_etag") == etags.get(shard.rel) and rec.get("identity_hash") == identity_hash:
                for skip in (Skip(**s) for s in rec["skips"]):
                    if skip not in seen:
                        seen.add(skip)
                        summary.skipped.append(skip)
    dup = job_summary.reduced.get("duplicate_ids") or {}
    summary.duplicate_ids = list(dup.get("examples") or [])
    summary.duplicate_id_count = int(dup.get("duplicate_ids") or 0)
    summary.seconds = seconds
    out_store.write_json(state_uri(cfg.output, REPORT_NAME), summary.to_dict())
    return summary


def _manifest(store, output: str, rel: str) -> dict | None:
    from agiqa.runner.manifest import manifests_root
    from agiqa.storage.uri import join, manifest_uri

    return store.read_json(manifest_uri(join(manifests_root(output), rel)))


def _worklist_etags(store, output: str) -> dict[str, str]:
    return {f.rel: f.etag for f in store.list_files(worklist_root(output), (".parquet",))}


def _reject_records(store, output: str) -> dict[str, list[dict]]:
    """The stage's reject records (`report.rejects_uri`) by work-list shard, in row order."""
    from agiqa.ingest.report import REJECTS_DIR
    from agiqa.storage.base import StorageError
    from agiqa.storage.layout import state_uri

    root = state_uri(output, REJECTS_DIR)
    try:
        files = store.list_files(root, (".json",))
    except (StorageError, FileNotFoundError):
        return {}
    out: dict[str, list[dict]] = {}
    files = sorted(files, key=lambda f: f.rel)
    for f, rec in zip(files, _in_parallel(lambda f: store.read_json(f.uri), files), strict=True):
        if rec is not None:
            out.setdefault(f.rel.rsplit("/", 1)[0], []).append(rec)
    return out


def _in_parallel(fn, items: list) -> list:
    """`fn` over `items`, results in order: independent small reads (a round trip each on S3) overlapped."""
    from concurrent.futures import ThreadPoolExecutor

    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=32, thread_name_prefix="agiqa-ingest-report") as pool:
        return list(pool.map(fn, items))
