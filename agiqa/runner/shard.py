"""One shard's files, exactly once: open and check the input, write every output whole, then the manifest.

The pieces `runner.stream` puts together: each output is written batch by batch, in input order,
to a temporary file and committed at the end (rename, or one S3 upload); the manifest is written
last. A crash anywhere leaves either nothing visible or the old, whole outputs, and a shard
without a manifest is redone. How batches are read, prepared and processed (several in flight,
finishing in any order) is `runner.stream`'s business.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from agiqa.runner.manifest import build_manifest, legacy_manifest_uris, shard_manifest_uri
from agiqa.runner.stage import STATUS, ShardOutput, ShardStage
from agiqa.runner.summary import RowCounts
from agiqa.storage.base import ShardInfo
from agiqa.storage.uri import join


@dataclass
class ShardReport(RowCounts):
    shard: str  # relative name
    ok: bool
    rows_in: int = 0
    rows_out: int = 0
    rows_by_status: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    output: str | None = None  # the first output's URI
    outputs: list[dict] = field(default_factory=list)  # {name, uri, rows}
    times: dict = field(default_factory=dict)
    #: Per column the stage names in `counted_columns`: rows per value (nulls left out), so a reduce
    #: over the job (a filter's drops by reason) reads the manifests, never the rows.
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Input columns renamed because the stage writes a column of the same name (`joined_schema`).
    renamed_input_columns: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**asdict(self), "rows_ok": self.rows_ok, "rows_error": self.rows_error}


@dataclass
class ShardIO:
    """Where one pass reads and writes, on whichever process runs the shard."""

    stage: ShardStage
    output_root: str
    in_store: object
    out_store: object
    side_store: object = None
    read_batch_rows: int = 64
    identity: dict = field(default_factory=dict)
    identity_hash: str = ""
    on_rows: object = None  # called with each written batch's row count (progress)
    on_open: object = None  # called with each opened shard's row count (progress: the ETA's total rows)
    #: Batches submitted to the stage and not yet finished, per process (actor or local runner), across shards.
    max_batches_in_flight: int = 4
    #: Threads running `stage.prepare` (decode, preprocess) per process; see `runner.stream.prepare_workers`.
    prepare_workers: int = 1


@dataclass
class OpenedShard:
    """A shard opened and checked (or why it can't be), ready to be read batch by batch."""

    shard: ShardInfo
    side: ShardInfo | None = None
    src: object = None
    pf: object = None
    batches: object = None
    side_reader: AlignedReader | None = None
    error: str | None = None
    #: Columns the stage has the runner add to every batch (`ShardStage.added_input_columns`).
    added: list = field(default_factory=list)
    rows_read: int = 0

    @property
    def schema(self) -> pa.Schema:
        """The input's schema as the stage sees it: the shard's columns, then the added ones."""
        schema = self.pf.schema_arrow
        for a in self.added:
            schema = schema.append(a.field)
        return schema

    def read(self) -> tuple[pa.RecordBatch, pa.RecordBatch | None] | None:
        """The next batch and the same rows of the side input; None at the end. One reader at a time."""
        b = next(self.batches, None)
        if b is None:
            return None
        for a in self.added:
            b = b.append_column(a.field, a.compute(b, self.shard.rel, self.rows_read))
        self.rows_read += b.num_rows
        return b, self.side_reader.take(b.num_rows) if self.side_reader is not None else None

    def close(self) -> None:
        for f in (self.src, self.side_reader):
            if f is not None:
                f.close()


class AlignedReader:
    """Rows of a side shard handed out in exactly the sizes of the input's batches."""

    def __init__(self, src, pf: pq.ParquetFile, batch_rows: int):
        self.src, self.batches, self.buffer = src, pf.iter_batches(batch_size=batch_rows), []
        self.rows = pf.metadata.num_rows

    def take(self, n: int) -> pa.RecordBatch:
        have = sum(b.num_rows for b in self.buffer)
        while have < n:
            b = next(self.batches, None)
            if b is None:
                raise ValueError(f"side input has fewer rows than the input ({self.rows})")
            self.buffer.append(b)
            have += b.num_rows
        table = pa.Table.from_batches(self.buffer).combine_chunks()
        head, rest = table.slice(0, n), table.slice(n)
        self.buffer = rest.to_batches() if rest.num_rows else []
        return head.to_batches()[0] if head.num_rows else pa.RecordBatch.from_pylist([], schema=table.schema)

    def close(self) -> None:
        self.src.close()


def open_shard(shard: ShardInfo, io: ShardIO, side: ShardInfo | None = None) -> OpenedShard:
    """Open and check: what an actor does for its next shard while the engine still works on the
    current one (so the engine stays fed across shard boundaries)."""
    opened = OpenedShard(shard, side)
    from agiqa.storage.base import StorageError

    try:
        opened.src = io.in_store.open_read(shard.uri)
        opened.pf = pq.ParquetFile(opened.src)
    except StorageError:  # the store failed (an outage past its budget), not the data: an attempt, retried
        opened.close()
        raise
    except Exception as e:
        opened.close()
        opened.error = f"not a readable Parquet file: {type(e).__name__}: {e}"
        return opened
    names = opened.pf.schema_arrow.names
    missing = [c for c in io.stage.required_columns if c not in names]
    if missing:
        opened.close()
        opened.error = f"missing required column(s) {missing}; the shard has {names}"
        return opened
    if io.side_store is not None:
        if side is None:
            opened.close()
            opened.error = "no side-input shard with this relative name"
            return opened
        try:
            side_src = io.side_store.open_read(side.uri)
            side_pf = pq.ParquetFile(side_src)
        except Exception as e:
            opened.close()
            opened.error = f"side input {side.uri} is not a readable Parquet file: {type(e).__name__}: {e}"
            return opened
        if side_pf.metadata.num_rows != opened.pf.metadata.num_rows:
            side_src.close()
            opened.close()
            opened.error = (f"side input {side.uri} has {side_pf.metadata.num_rows} rows, "
                            f"the input {opened.pf.metadata.num_rows}")
            return opened
        opened.side_reader = AlignedReader(side_src, side_pf, io.read_batch_rows)
    columns = getattr(io.stage, "read_columns", None)  # a partial stage reads only what it counts
    opened.batches = opened.pf.iter_batches(batch_size=getattr(io.stage, "read_batch_rows", None) or io.read_batch_rows,
                                            columns=list(columns) if columns is not None else None)
    if (add := getattr(io.stage, "added_input_columns", None)) is not None:
        opened.added = list(add(opened.pf.schema_arrow, shard.rel))
    if io.on_open is not None:
        io.on_open(opened.pf.metadata.num_rows)
    return opened


def joined_schema(input_schema: pa.Schema, stage: ShardStage, metadata: dict) -> tuple[pa.Schema, dict[str, str]]:
    """Input columns minus those the stage drops, then the stage's; an input column whose name the
    stage writes (`status`, `error`, `<aspect>_score`, ...) is kept as `input_<name>`, or
    `input2_<name>`, ... when that is taken too (an img2dataset shard scored, then filtered, holds
    img2dataset's `status` as `input_status` and the scorer's as `status`: the filter keeps the
    scorer's as `input2_status`). Every job kind joins through here, so a clash is handled once."""
    out_fields = list(stage.output_fields())
    kept = [f for f in input_schema if f.name not in stage.drop_columns]
    taken = {f.name for f in out_fields} | {f.name for f in kept}
    renames: dict[str, str] = {}
    fields = []
    for f in kept:
        name = f.name
        if name in {o.name for o in out_fields}:
            name = next(c for k in range(1, len(taken) + 2)
                        if (c := f"input{k if k > 1 else ''}_{f.name}") not in taken)
            taken.add(name)
            renames[f.name] = name
        fields.append(f.with_name(name))
    return pa.schema(fields + out_fields, metadata=metadata), renames


class _OutputFile:
    """One of the stage's outputs for this shard: a temp file written batch by batch, then committed."""

    def __init__(self, spec: ShardOutput, schema: pa.Schema, uri: str, out_store):
        self.spec, self.uri, self.store = spec, uri, out_store
        keep = [f.name for f in schema if f.name not in spec.drop_columns]
        pairs = spec.columns(keep) if spec.columns is not None else [(n, n) for n in keep]
        self.columns = [a for a, _ in pairs]
        self.schema = pa.schema([schema.field(a).with_name(b) for a, b in pairs], metadata=schema.metadata)
        self.tmp = out_store.temp_path_for(uri)
        self.writer = None
        try:
            with _naming_full_disk(uri):
                self.writer = pq.ParquetWriter(self.tmp, self.schema, compression="zstd")
        except BaseException:
            self.discard()
            raise
        self.rows = 0

    def write(self, joined: pa.RecordBatch) -> None:
        if self.spec.statuses is not None:
            import pyarrow.compute as pc

            joined = joined.filter(pc.is_in(joined.column(STATUS), pa.array(list(self.spec.statuses))))
        if joined.num_rows:
            with _naming_full_disk(self.uri):
                self.writer.write_batch(pa.RecordBatch.from_arrays(joined.select(self.columns).columns,
                                                                   schema=self.schema))
            self.rows += joined.num_rows

    def close(self) -> None:
        if self.writer is not None:
            writer, self.writer = self.writer, None
            with _naming_full_disk(self.uri):
                writer.close()

    def commit(self) -> dict:
        """Commit the file; returns what the manifest records to verify it later (size, etag, sha256)."""
        self.close()
        digest = _sha256(self.tmp)
        self.store.commit_file(self.tmp, self.uri)
        info = self.store.info(self.uri)
        return {"size": info.size if info else None, "etag": info.etag if info else None, "sha256": digest}

    def discard(self) -> None:
        try:
            self.close()
        except OSError:
            pass  # a full disk fails the close too: the temp file goes all the same
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


class ShardWriter:
    """A shard's outputs being written: batches joined to their input rows, counted, then committed."""

    def __init__(self, shard: ShardInfo, io: ShardIO, opened: OpenedShard):
        self.shard, self.io, self.opened, self.stage = shard, io, opened, io.stage
        self.report = ShardReport(shard=shard.rel, ok=False)
        meta = {"agiqa": json.dumps(_provenance(io))}
        self.schema, self.renames = joined_schema(opened.schema, self.stage, meta)
        self.rels = [f"{o.folder}/{shard.rel}" if o.folder else shard.rel for o in self.stage.outputs]
        self.outputs: list[_OutputFile] = []
        try:
            for o, rel in zip(self.stage.outputs, self.rels, strict=True):
                self.outputs.append(_OutputFile(o, self.schema, join(io.output_root, rel), io.out_store))
        except BaseException:
            self.discard()  # the outputs opened before the one that failed
            raise

    def write(self, batch: pa.RecordBatch, result: pa.RecordBatch) -> None:
        """The stage's output for `batch` (the next one in input order) joined and written to every output."""
        stage = self.stage
        if result.num_rows != batch.num_rows:
            raise RuntimeError(f"stage {stage.name!r} returned {result.num_rows} rows for {batch.num_rows}")
        kept = batch.drop_columns([c for c in stage.drop_columns if c in batch.schema.names])
        joined = pa.RecordBatch.from_arrays(list(kept.columns) + list(result.columns), schema=self.schema)
        for out in self.outputs:
            out.write(joined)
        by_status = self.report.rows_by_status
        for status in result.column(STATUS).to_pylist():
            by_status[status] = by_status.get(status, 0) + 1
        for name in getattr(stage, "counted_columns", ()):
            counts = self.report.counts.setdefault(name, {})
            for value in result.column(name).to_pylist():
                if value is not None:
                    counts[value] = counts.get(value, 0) + 1
        self.report.rows_in += batch.num_rows
        if self.io.on_rows is not None:
            self.io.on_rows(batch.num_rows)

    def commit(self, seconds: float) -> ShardReport:
        """Every output committed, then the manifest: from here on the shard is done."""
        io, report = self.io, self.report
        committed = [out.commit() for out in self.outputs]
        report.rows_out = report.rows_in
        report.outputs = [{"name": o.spec.name, "uri": o.uri, "rel": rel, "rows": o.rows, **c}
                          for o, rel, c in zip(self.outputs, self.rels, committed, strict=True)]
        report.output = self.outputs[0].uri if self.outputs else None
        report.seconds = seconds
        report.ok = True
        report.times = dict(getattr(self.stage, "times", {}) or {})
        report.renamed_input_columns = dict(self.renames)
        io.out_store.write_json(shard_manifest_uri(io.output_root, self.shard),
                                build_manifest(self.stage.name, io.identity, io.identity_hash, self.shard,
                                               self.opened.side, report, self.renames))
        for legacy in legacy_manifest_uris(io.output_root, self.shard):  # older agiqa's: the new one replaces it
            if io.out_store.exists(legacy):
                io.out_store.delete(legacy)
        return report

    def discard(self) -> None:
        """Temp files removed (after a commit there are none left)."""
        for out in self.outputs:
            out.discard()


class PartialWriter:
    """A partial stage's one file per shard (`runner.stage.PartialStage`): batches folded in input
    order, the result written and committed at the end, then the manifest, as `ShardWriter` does."""

    def __init__(self, shard: ShardInfo, io: ShardIO, opened: OpenedShard):
        self.shard, self.io, self.opened, self.stage = shard, io, opened, io.stage
        self.report = ShardReport(shard=shard.rel, ok=False)
        self.state = None
        self.output: _OutputFile | None = None

    def write(self, batch: pa.RecordBatch, result) -> None:
        self.state = self.stage.fold(self.state, result)
        self.report.rows_in += batch.num_rows
        self.report.rows_by_status["read"] = self.report.rows_in
        if self.io.on_rows is not None:
            self.io.on_rows(batch.num_rows)

    def commit(self, seconds: float) -> ShardReport:
        io, report = self.io, self.report
        table = self.stage.finish(self.state)
        meta = {"agiqa": json.dumps(_provenance(io))}
        uri = join(io.output_root, self.shard.rel)
        self.output = _OutputFile(ShardOutput("partial"), table.schema.with_metadata(meta), uri, io.out_store)
        for b in table.to_batches():
            self.output.write(b)
        committed = self.output.commit()
        report.rows_out = table.num_rows
        report.outputs = [{"name": "partial", "uri": uri, "rel": self.shard.rel, "rows": table.num_rows,
                           **committed}]
        report.output, report.seconds, report.ok = uri, seconds, True
        io.out_store.write_json(shard_manifest_uri(io.output_root, self.shard),
                                build_manifest(self.stage.name, io.identity, io.identity_hash, self.shard,
                                               self.opened.side, report, {}))
        return report

    def discard(self) -> None:
        if self.output is not None:
            self.output.discard()


def writer_for(shard: ShardInfo, io: ShardIO, opened: OpenedShard) -> ShardWriter | PartialWriter:
    """The writer a shard's stage needs: rows joined to the input, or one partial table."""
    from agiqa.runner.stage import is_partial

    return (PartialWriter if is_partial(io.stage) else ShardWriter)(shard, io, opened)


@contextmanager
def _naming_full_disk(uri: str):
    """An out-of-space error says which output it was writing (pyarrow's names no file)."""
    import errno

    try:
        yield
    except OSError as e:
        if e.errno == errno.ENOSPC or "No space left" in str(e):
            raise OSError(errno.ENOSPC, f"no space left on the device while writing {uri}") from None
        raise


def _sha256(path: str) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def refused(shard: ShardInfo, opened: OpenedShard | None) -> ShardReport | None:
    """A report with ok=False when the shard cannot be run (unsafe name, unreadable, missing columns)."""
    from agiqa.storage.names import unsafe_name

    report = ShardReport(shard=shard.rel, ok=False)
    if why := unsafe_name(shard.rel):  # planning refuses these; never write one, whoever asks
        report.error = why
        return report
    if opened is not None and opened.error:
        report.error = opened.error
        return report
    return None


def _provenance(io: ShardIO) -> dict:
    import agiqa

    return {"stage": io.stage.name, "identity_hash": io.identity_hash, "identity": io.identity,
            "agiqa_version": agiqa.__version__}
