"""WebDataset tar shards, img2dataset's layout included: `NNNNN.tar` of `key.jpg` + `key.txt` +
`key.json`, beside `NNNNN.parquet` of key/url/caption/status/... (one row per URL tried).

Each tar becomes one output shard with the same relative name (`NNNNN.tar` -> `NNNNN.parquet`),
read as a stream (one pass, nothing seeked, so it works from S3 as from disk). A sample's key
(its file name up to the first dot, WebDataset's rule) is its id; its `.txt` is the prompt; its
metadata columns come from the sibling Parquet (typed), else its `.json` is kept whole in a `json`
column (its fields and their types vary between samples). Reported and left out: samples without an image, undecodable
images, tar members that cannot be read, a tar cut short (the samples before the cut are kept),
and sibling-Parquet rows without an image in the tar (img2dataset's failed downloads, with its
`error_message`).

Why the standard library's `tarfile` and not the `webdataset` package: `webdataset` 1.0 imports
torch when imported (its loaders are torch datasets), which the light install leaves out; its tar
reader is itself `tarfile` in stream mode plus the key rule above, which is what this does. The
tests write their tars with `webdataset.TarWriter`, so the layout is the package's own.
"""

from __future__ import annotations

import re
import tarfile

from agiqa.data.images import BadRow
from agiqa.ingest.check import IMAGE_SUFFIXES, check_image
from agiqa.ingest.formats import extra_names
from agiqa.ingest.report import Skip
from agiqa.ingest.shards import IngestPlan, OutputShard, no_input

IMAGE_EXTS = tuple(s.lstrip(".") for s in IMAGE_SUFFIXES)
TEXT_EXTS = ("txt", "caption", "text", "prompt")
_KEY = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")  # WebDataset's base_plus_ext: key, then every extension


def split_key(name: str) -> tuple[str | None, str | None]:
    m = _KEY.match(name)
    return (m.group(1), m.group(2).lower()) if m else (None, None)


def plan_tars(cfg, store) -> IngestPlan:
    import pyarrow as pa

    from agiqa.ingest.formats import base_fields

    tars = store.list_files(cfg.input, (".tar",))
    if not tars:
        raise no_input(cfg, "*.tar files")
    siblings = {f.rel: f for f in store.list_files(cfg.input, (".parquet",))}
    shards = []
    for t in tars:
        rel = t.rel[: -len(".tar")] + ".parquet"
        side = siblings.get(rel)
        meta = _read_sibling(side, store) if side is not None else None
        if meta is not None:
            keep, renamed = extra_names(meta.column_names, {"key"})
            schema = base_fields(meta.select(keep).schema, renamed)
        else:  # each sample's .json kept whole: its fields and their types vary between samples
            keep, renamed, schema = None, {}, base_fields(pa.schema([pa.field("json", pa.string())]), {})
        identity = {"tar": [t.rel, t.etag], "sibling": [side.rel, side.etag] if side else None}
        shards.append(OutputShard(rel, identity, schema, _rows_of(t, meta, keep, renamed, store, cfg)))
    return IngestPlan("webdataset", shards, [])


def _read_sibling(side, store):
    import io

    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(store.read_bytes(side.uri)))
    return table if "key" in table.column_names else None


def samples(fileobj, where: str):
    """(key, {ext: bytes}) per sample of a tar stream, or a Skip for what cannot be read; a tar cut
    short ends with a Skip (`tar_truncated`) after the samples before the cut."""
    current, parts = None, {}
    try:
        stream = tarfile.open(fileobj=fileobj, mode="r|*")
        for member in stream:
            if not member.isreg():
                continue
            key, ext = split_key(member.name)
            if key is None or key.rsplit("/", 1)[-1].startswith("__"):
                continue
            try:
                data = stream.extractfile(member).read()
            except Exception as e:
                if isinstance(e, tarfile.ReadError | EOFError):
                    raise
                yield Skip(f"{where}:{member.name}", "tar_member", f"{type(e).__name__}: {e}")
                continue
            if key != current:
                if current is not None:
                    yield current, parts
                current, parts = key, {}
            if ext in parts:
                yield Skip(f"{where}:{member.name}", "tar_member", f"duplicate file {member.name} in the tar")
                continue
            parts[ext] = data
            stream.members = []  # stream mode: do not keep every member's header
    except (tarfile.ReadError, EOFError, OSError) as e:
        if current is None:
            yield Skip(where, "tar_unreadable", f"not a readable tar: {type(e).__name__}: {e}")
            return
        yield current, parts
        current = None
        yield Skip(where, "tar_truncated", f"the tar cannot be read past this point: {type(e).__name__}: {e}")
    if current is not None:
        yield current, parts


def _rows_of(t, meta, keep, renamed, store, cfg):
    def rows():
        by_key = {}
        if meta is not None:
            for rec in meta.to_pylist():
                by_key[str(rec["key"])] = rec
        seen = set()
        with store.open_read(t.uri) as f:
            for item in samples(f, t.rel):
                if isinstance(item, Skip):
                    yield item
                    continue
                key, parts = item
                short = key.rsplit("/", 1)[-1]
                seen.add(short)
                image_ext = next((e for e in IMAGE_EXTS if e in parts), None)
                if image_ext is None:
                    yield Skip(f"{t.rel}:{key}", "sample_without_image",
                               f"sample has {sorted(parts)}, no image ({', '.join(IMAGE_EXTS)})")
                    continue
                data = parts[image_ext]
                try:
                    check_image(data, cfg.images, cfg.verify)
                except BadRow as e:
                    yield Skip(f"{t.rel}:{key}.{image_ext}", e.code, str(e))
                    continue
                text_ext = next((e for e in TEXT_EXTS if e in parts), None)
                prompt = parts[text_ext].decode("utf-8", errors="replace").strip() if text_ext else None
                row = {"id": short, "image": data, "prompt": prompt}
                if meta is not None:
                    rec = by_key.get(short, {})
                    row.update({renamed.get(k, k): rec.get(k) for k in keep})
                else:
                    row["json"] = parts["json"].decode("utf-8", errors="replace") if "json" in parts else None
                yield row
        for k, rec in by_key.items():
            if k not in seen:
                why = rec.get("error_message") or (f"status {rec['status']!r}" if rec.get("status") else
                                                   "its key is not in the tar")
                yield Skip(f"{t.rel}:{k}", "row_without_image", f"sibling Parquet row without an image: {why}")
    return rows

