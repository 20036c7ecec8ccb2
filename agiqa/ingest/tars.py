"""WebDataset tar shards, img2dataset's layout included: `NNNNN.tar` of `key.jpg` + `key.txt` +
`key.json`, beside `NNNNN.parquet` of key/url/caption/status/... (one row per URL tried).

Each tar becomes one output shard with the same relative name (`NNNNN.tar` -> `NNNNN.parquet`).
Planning reads its headers and caption members only, seeking over the image bytes (a ranged
read on S3), and writes a work list naming each image member by offset and size; the ingest
stage reads those ranges. An uncompressed tar is what WebDataset and img2dataset write; a
compressed one cannot be read by range and is reported as `tar_unreadable`. A sample's key
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

from agiqa.ingest.check import IMAGE_SUFFIXES
from agiqa.ingest.formats import extra_names
from agiqa.ingest.report import Skip
from agiqa.ingest.shards import IngestPlan, OutputShard, no_input, planned
from agiqa.ingest.worklist import work_table
from agiqa.storage.parquet import read_table  # not pq.read_table: see the module

IMAGE_EXTS = tuple(s.lstrip(".") for s in IMAGE_SUFFIXES)
TEXT_EXTS = ("txt", "caption", "text", "prompt")
_KEY = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")  # WebDataset's base_plus_ext: key, then every extension


def split_key(name: str) -> tuple[str | None, str | None]:
    m = _KEY.match(name)
    return (m.group(1), m.group(2).lower()) if m else (None, None)


def plan_tars(cfg, store) -> IngestPlan:
    tars = store.list_files(cfg.input, (".tar",))
    if not tars:
        raise no_input(cfg, "*.tar files")
    siblings = {f.rel: f for f in store.list_files(cfg.input, (".parquet",))}

    def one(t):
        rel = t.rel[: -len(".tar")] + ".parquet"
        side = siblings.get(rel)
        meta = _read_sibling(side, store) if side is not None else None
        with store.open_read(t.uri) as f:
            table, skips = _work_list(t, samples(f, t.rel, t.size), meta)
        return OutputShard(rel, table), skips

    shards, skipped = [], []
    for shard, skips in planned(one, tars):
        shards.append(shard)
        skipped += skips
    return IngestPlan("webdataset", shards, skipped)


def _read_sibling(side, store):
    import io


    table = read_table(io.BytesIO(store.read_bytes(side.uri)))
    return table if "key" in table.column_names else None


def samples(fileobj, where: str, size: int):
    """(key, {ext: (data offset, size, bytes of a caption or json member, else None)}) per sample of a
    tar, or a Skip for what cannot be read. Only headers and small text members are read (the tar is
    seeked over; image bytes stay where they are for the stage to read by range). A tar cut short ends
    with a Skip (`tar_truncated`) after the samples before the cut."""
    current, parts = None, {}
    try:
        stream = tarfile.open(fileobj=fileobj, mode="r:")
        for member in stream:
            if not member.isreg():
                continue
            key, ext = split_key(member.name)
            if key is None or key.rsplit("/", 1)[-1].startswith("__"):
                continue
            if member.offset_data + member.size > size:
                raise tarfile.ReadError(f"member {member.name} ends past the end of the file")
            data = None
            if ext in TEXT_EXTS or ext == "json":
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
            parts[ext] = (member.offset_data, member.size, data)
            stream.members = []  # do not keep every member's header
    except (tarfile.ReadError, EOFError, OSError) as e:
        if current is None:
            yield Skip(where, "tar_unreadable", f"not a readable tar: {type(e).__name__}: {e}")
            return
        yield current, parts
        current = None
        yield Skip(where, "tar_truncated", f"the tar cannot be read past this point: {type(e).__name__}: {e}")
    if current is not None:
        yield current, parts


def _work_list(t, items, meta):
    """The tar's work list (one row per sample with an image) and what planning skipped."""
    import pyarrow as pa

    skips, src, ids, prompts, jsons = [], {k: [] for k in ("src.item", "src.offset", "src.size")}, [], [], []
    by_key = {str(k): i for i, k in enumerate(meta.column("key").to_pylist())} if meta is not None else {}
    seen, taken = set(), []
    for item in items:
        if isinstance(item, Skip):
            skips.append(item)
            continue
        key, parts = item
        short = key.rsplit("/", 1)[-1]
        seen.add(short)
        image_ext = next((e for e in IMAGE_EXTS if e in parts), None)
        if image_ext is None:
            skips.append(Skip(f"{t.rel}:{key}", "sample_without_image",
                              f"sample has {sorted(parts)}, no image ({', '.join(IMAGE_EXTS)})"))
            continue
        offset, size, _ = parts[image_ext]
        src["src.item"].append(f"{t.rel}:{key}.{image_ext}")
        src["src.offset"].append(offset)
        src["src.size"].append(size)
        text_ext = next((e for e in TEXT_EXTS if e in parts), None)
        text = parts[text_ext][2] if text_ext else None
        prompts.append(text.decode("utf-8", errors="replace").strip() if text is not None else None)
        ids.append(short)
        jsons.append(parts["json"][2].decode("utf-8", errors="replace") if parts.get("json", (0, 0, None))[2]
                     is not None else None)
        taken.append(by_key.get(short))
    n = len(ids)
    src.update({"src.uri": [t.uri] * n, "src.etag": [t.etag] * n})
    if meta is not None:
        keep, renamed = extra_names(meta.column_names, {"key"})
        extras = meta.select(keep).take(pa.array(taken, pa.int64()))
    else:  # each sample's .json kept whole: its fields and their types vary between samples
        renamed, extras = {}, pa.table({"json": pa.array(jsons, pa.string())})
    for k, i in by_key.items():
        if k not in seen:
            rec = {c: meta.column(c)[i].as_py() for c in ("error_message", "status") if c in meta.column_names}
            why = rec.get("error_message") or (f"status {rec['status']!r}" if rec.get("status") else
                                               "its key is not in the tar")
            skips.append(Skip(f"{t.rel}:{k}", "row_without_image", f"sibling Parquet row without an image: {why}"))
    return work_table(src, ids, prompts, extras, renamed), skips
