"""Score one shard, exactly once: stream batches in, write the scored shard whole, then its manifest.

    plan_shards(cfg, in_store, out_store) -> (todo, skipped)
    run_shard(shard, cfg, processor, in_store, out_store) -> ShardReport

Within a shard, reading + `processor.prepare` of batch i+1 runs on a background thread while
`processor.process` runs on batch i, so the engine does not wait on storage or image decoding.
The output is written batch by batch to a temporary file and committed at the end (rename, or
one S3 upload), then the manifest is written: a shard with a manifest is complete, a shard
without one is redone. A crash anywhere leaves either nothing visible or the old, whole output.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from agiqa.storage.base import ShardInfo
from agiqa.storage.uri import join, manifest_uri

log = logging.getLogger(__name__)


@dataclass
class ShardReport:
    shard: str  # relative name
    ok: bool
    rows_in: int = 0
    rows_out: int = 0
    rows_ok: int = 0
    rows_error: int = 0
    seconds: float = 0.0
    error: str | None = None
    output: str | None = None
    times: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def output_uri(cfg, shard: ShardInfo) -> str:
    return join(cfg.output, shard.rel)


def plan_shards(cfg, in_store, out_store) -> tuple[list[ShardInfo], list[ShardInfo]]:
    """Split the input shards into (to score, already committed with this config)."""
    shards = in_store.list_shards(cfg.input)
    if cfg.overwrite:
        return shards, []

    def committed(s: ShardInfo) -> bool:
        return committed_manifest(cfg, out_store, s) is not None

    # Manifest reads are independent round trips: overlap them (1M shards on S3 in minutes, not hours).
    with ThreadPoolExecutor(max_workers=32, thread_name_prefix="agiqa-plan") as pool:
        done = list(pool.map(committed, shards))
    todo = [s for s, d in zip(shards, done, strict=True) if not d]
    skipped = [s for s, d in zip(shards, done, strict=True) if d]
    return todo, skipped


def committed_manifest(cfg, out_store, shard: ShardInfo) -> dict | None:
    """The manifest of `shard`'s output if it is committed for this input and this scoring config."""
    m = out_store.read_json(manifest_uri(output_uri(cfg, shard)))
    if m is None or m.get("config_hash") != cfg.scoring_hash() or m.get("input", {}).get("etag") != shard.etag:
        return None
    return m


def _output_schema(input_schema: pa.Schema, processor) -> tuple[pa.Schema, dict[str, str]]:
    """Input columns minus the image, renaming any that clash with output columns."""
    out_fields = list(processor.output_schema())
    taken = {f.name for f in out_fields}
    renames: dict[str, str] = {}
    fields = []
    for f in input_schema:
        if f.name == processor.image_column:
            continue
        name = f.name
        if name in taken:
            name = "input_" + name
            renames[f.name] = name
        fields.append(f.with_name(name))
    return pa.schema(fields + out_fields), renames


@dataclass
class OpenedShard:
    """A shard opened and checked, with its first batch read and prepared (or why it can't be)."""

    shard: ShardInfo
    src: object = None
    pf: object = None
    batches: object = None
    first: tuple | None = None  # (batch, prepared) or None when the shard is empty
    error: str | None = None

    def close(self) -> None:
        if self.src is not None:
            self.src.close()


def open_shard(shard: ShardInfo, cfg, processor, in_store) -> OpenedShard:
    """Open, check and prepare the first batch: what a scorer can do for its next shard while the
    engine still works on the current one (so the engine stays fed across shard boundaries)."""
    opened = OpenedShard(shard)
    try:
        opened.src = in_store.open_read(shard.uri)
        opened.pf = pq.ParquetFile(opened.src)
    except Exception as e:
        opened.close()
        opened.error = f"not a readable Parquet file: {type(e).__name__}: {e}"
        return opened
    names = opened.pf.schema_arrow.names
    missing = [c for c in processor.required_columns if c not in names]
    if missing:
        opened.close()
        opened.error = f"missing required column(s) {missing}; the shard has {names}"
        return opened
    opened.batches = opened.pf.iter_batches(batch_size=cfg.read_batch_rows)
    b = next(opened.batches, None)
    opened.first = None if b is None else (b, processor.prepare(b))
    return opened


def run_shard(shard: ShardInfo, cfg, processor, in_store, out_store, crash_hook=None,
              opened: OpenedShard | None = None) -> ShardReport:
    """Score `shard`; a shard-level problem (not Parquet, missing column) gives ok=False, not a raise.

    `opened` is the result of `open_shard` done ahead of time (else it is done here). Exceptions
    from the processor itself (a broken engine) propagate: the caller retries the shard.
    """
    t0 = time.perf_counter()
    report = ShardReport(shard=shard.rel, ok=False)
    if opened is None:
        opened = open_shard(shard, cfg, processor, in_store)
    if opened.error:
        report.error = opened.error
        return report
    src, pf, batches = opened.src, opened.pf, opened.batches
    schema, renames = _output_schema(pf.schema_arrow, processor)
    dst = output_uri(cfg, shard)
    tmp = out_store.temp_path_for(dst)
    writer = pq.ParquetWriter(tmp, schema, compression="zstd")
    first = [opened.first]

    def read_and_prepare():
        if first:
            return first.pop()
        b = next(batches, None)
        return None if b is None else (b, processor.prepare(b))

    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="agiqa-prefetch") as pool:
            nxt = pool.submit(read_and_prepare)
            index = 0
            while True:
                item = nxt.result()
                if item is None:
                    break
                batch, prepared = item
                nxt = pool.submit(read_and_prepare)  # overlap the next read+decode with the engine
                if crash_hook is not None:
                    crash_hook(shard, index)
                scored = processor.process(prepared)
                if scored.num_rows != batch.num_rows:
                    raise RuntimeError(f"processor returned {scored.num_rows} rows for {batch.num_rows}")
                kept = batch.drop_columns([processor.image_column])
                cols = list(kept.columns) + list(scored.columns)
                writer.write_batch(pa.RecordBatch.from_arrays(cols, schema=schema))
                status = scored.column("status").to_pylist()
                report.rows_in += batch.num_rows
                report.rows_ok += sum(s == "ok" for s in status)
                index += 1
        writer.close()
        writer = None
        report.rows_out = report.rows_in
        report.rows_error = report.rows_out - report.rows_ok
        out_store.commit_file(tmp, dst)
    finally:
        if writer is not None:
            writer.close()
        src.close()
        _remove(tmp)
    report.seconds = time.perf_counter() - t0
    report.ok = True
    report.output = dst
    times = getattr(processor, "times", None)
    report.times = {k: v for k, v in vars(times).items() if isinstance(v, float)} if times is not None else {}
    out_store.write_json(manifest_uri(dst), manifest(cfg, shard, report, renames))
    return report


def manifest(cfg, shard: ShardInfo, report: ShardReport, renames: dict) -> dict:
    import agiqa

    return {
        "shard": shard.rel,
        "input": {"uri": shard.uri, "size": shard.size, "etag": shard.etag},
        "output": report.output,
        "rows_in": report.rows_in,
        "rows_out": report.rows_out,
        "rows_ok": report.rows_ok,
        "rows_error": report.rows_error,
        "renamed_input_columns": renames,
        "config_hash": cfg.scoring_hash(),
        "aspects": list(cfg.aspects),
        "agiqa_version": agiqa.__version__,
        "seconds": round(report.seconds, 3),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _remove(path: str) -> None:
    import os

    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
