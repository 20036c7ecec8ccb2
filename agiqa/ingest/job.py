"""Run an ingest: plan output shards, skip those already committed, write the rest atomically.

Exactly once, as the score runner does it (`agiqa.runner.manifest`): items are assigned to output
shards deterministically (a sorted listing cut into fixed-size shards, or one output per tar or
Parquet input), each output shard is written to a temporary file and committed whole through the
storage layer (rename, or one S3 upload), then its manifest is written. A rerun skips a shard
whose manifest carries the same identity (its inputs' names, etags and table rows, and the
settings); a shard killed before its manifest is redone whole. Nothing is lost or duplicated.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from agiqa.ingest.config import IngestConfig
from agiqa.ingest.report import REPORT_NAME, IngestSummary, Skip
from agiqa.ingest.shards import OutputShard
from agiqa.runner.manifest import identity_hash
from agiqa.storage.layout import LEGACY_STATE_DIR, MANIFESTS_DIR, state_uri
from agiqa.storage.names import shown
from agiqa.storage.uri import join, manifest_uri

log = logging.getLogger(__name__)

#: Rows per Parquet row group of an output shard (scoring reads 64 at a time).
ROW_GROUP_ROWS = 128


def manifest_of(output: str, rel: str) -> str:
    """In the output's state root, beside it (`agiqa.storage.layout`), as the score runner's are."""
    return manifest_uri(join(state_uri(output, MANIFESTS_DIR), rel))


def run_ingest(cfg: IngestConfig, open_store=None) -> IngestSummary:
    """Ingest `cfg.input` into `cfg.output`; returns the summary (also written as the report)."""
    from agiqa.ingest.inputs import InputView
    from agiqa.runner.lease import OutputLease
    from agiqa.storage import check_access
    from agiqa.storage import open_store as default_open
    from agiqa.storage.layout import log_roots
    from agiqa.storage.temps import clean_temps
    from agiqa.storage.uri import is_s3

    open_store = open_store or default_open
    t0 = time.perf_counter()
    check_access(cfg.input, cfg.output, cfg.storage)
    log_roots("ingest", cfg.input, cfg.output)
    in_store = InputView(open_store(cfg.input, cfg.storage), cfg.input, cfg.follow_symlinks)
    out_store = open_store(cfg.output, cfg.storage)
    ident = identity_hash({"ingest": cfg.model_dump(exclude={"workers", "overwrite", "storage"})})
    with OutputLease(out_store, cfg.output, ident):  # one writer per output, as for score and filter
        if not is_s3(cfg.output):  # what a killed ingest left (`storage.temps`)
            clean_temps(cfg.output)
        return _run(cfg, in_store, out_store, t0)


def _run(cfg: IngestConfig, in_store, out_store, t0: float) -> IngestSummary:
    from agiqa.ingest.plan import plan_ingest

    plan = plan_ingest(cfg, in_store)
    summary = IngestSummary(cfg.input, cfg.output, plan.format, shards_total=len(plan.shards))
    summary.skipped.extend(in_store.refused + plan.skipped)
    settings = cfg.model_dump(exclude={"input", "output", "workers", "overwrite", "storage", "follow_symlinks"})
    todo, done = [], []
    for shard in plan.shards:
        shard.identity = {"format": plan.format, "settings": settings, "schema": shard.schema.to_string(),
                          **shard.identity}
        m, where = (None, None) if cfg.overwrite else _find_manifest(out_store, cfg.output, shard.rel)
        if m and m.get("identity_hash") == identity_hash(shard.identity) and _output_intact(out_store, cfg, m):
            done.append((shard, m))
            if where != manifest_of(cfg.output, shard.rel):  # agiqa 0.1's, inside the output: moved beside it
                out_store.write_json(manifest_of(cfg.output, shard.rel), m)
                out_store.delete(where)
        else:
            todo.append((shard, m))
    for _, m in done:
        summary.rows_written += m["rows"]
        summary.skipped.extend(Skip(**s) for s in m["skipped"])
    summary.shards_already_done = len(done)

    def one(shard: OutputShard):
        try:
            return shard, write_shard(shard, cfg, out_store), None
        except Exception as e:
            log.debug("ingest shard %s failed", shown(shard.rel), exc_info=True)
            return shard, None, f"{type(e).__name__}: {e}"

    with ThreadPoolExecutor(max_workers=cfg.workers, thread_name_prefix="agiqa-ingest") as pool:
        for shard, manifest, error in pool.map(one, [s for s, _ in todo]):
            if error:
                summary.shards_failed[shard.rel] = error
                continue
            summary.shards_written += 1
            summary.rows_written += manifest["rows"]
            summary.skipped.extend(Skip(**s) for s in manifest["skipped"])
    if not summary.shards_failed:
        summary.duplicate_ids = duplicate_ids(out_store, cfg.output, [s.rel for s in plan.shards])
    summary.seconds = time.perf_counter() - t0
    out_store.write_json(state_uri(cfg.output, REPORT_NAME), summary.to_dict())
    if not summary.shards_failed:
        from agiqa.runner.finish import remove_legacy_state

        remove_legacy_state(out_store, cfg.output)
    return summary


def _output_intact(out_store, cfg: IngestConfig, manifest: dict) -> bool:
    """The committed output is there with the size its manifest recorded (one stat or HEAD); else redo it."""
    info = out_store.info(join(cfg.output, manifest.get("output_rel") or manifest["shard"]))
    if info is None or (manifest.get("output_size") is not None and info.size != manifest["output_size"]):
        log.warning("ingest: output %s is missing or not as committed: written again", manifest["shard"])
        return False
    return True


def _find_manifest(out_store, output: str, rel: str) -> tuple[dict | None, str | None]:
    """A shard's manifest in the state root, else where agiqa 0.1 wrote it (`<output>/_agiqa/manifests/`)."""
    for uri in (manifest_of(output, rel), manifest_uri(join(join(output, LEGACY_STATE_DIR + "/manifests"), rel))):
        if (m := out_store.read_json(uri)) is not None:
            return m, uri
    return None, None


def write_shard(shard: OutputShard, cfg: IngestConfig, out_store) -> dict:
    """Write one output shard to a temporary file, commit it, then its manifest; returns the manifest."""
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    import agiqa

    t0 = time.perf_counter()
    uri = join(cfg.output, shard.rel)
    tmp = out_store.temp_path_for(uri)
    compression = {f.name: ("none" if f.name == "image" else "zstd") for f in shard.schema}
    writer = pq.ParquetWriter(tmp, shard.schema, compression=compression)
    rows, skipped, buffer = 0, [], []

    def flush():
        nonlocal rows
        if buffer:
            writer.write_table(pa.Table.from_pylist(buffer, schema=shard.schema), row_group_size=ROW_GROUP_ROWS)
            rows += len(buffer)
            buffer.clear()

    try:
        for item in shard.rows():
            if isinstance(item, Skip):
                skipped.append(item)
                continue
            buffer.append(item)
            if len(buffer) >= ROW_GROUP_ROWS:
                flush()
        flush()
        writer.close()
        writer = None
        out_store.commit_file(tmp, uri)
        committed = out_store.info(uri)
    finally:
        if writer is not None:
            writer.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    manifest = {"shard": shard.rel, "output": uri, "output_rel": shard.rel,
                "output_size": committed.size if committed else None, "rows": rows, "skipped": [s.to_dict() for s in skipped],
                "identity_hash": identity_hash(shard.identity), "identity": shard.identity,
                "agiqa_version": agiqa.__version__, "seconds": round(time.perf_counter() - t0, 3),
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    commit_manifest(out_store, manifest_of(cfg.output, shard.rel), manifest)
    return manifest


def commit_manifest(out_store, uri: str, manifest: dict) -> None:
    """Written last: the shard counts as done from here on (a separate function so a test can die here)."""
    out_store.write_json(uri, manifest)


def duplicate_ids(out_store, output: str, rels: list[str], limit: int = 100) -> list[str]:
    """Ids that occur more than once across the output shards (read from their `id` columns only)."""
    import pyarrow.parquet as pq

    seen: set = set()
    dups: list[str] = []
    for rel in rels:
        with out_store.open_read(join(output, rel)) as f:
            for v in pq.ParquetFile(f).read(columns=["id"]).column(0).to_pylist():
                if v in seen and len(dups) < limit:
                    dups.append(v)
                seen.add(v)
    return dups

