"""A folder tree of images, with prompts from a table (CSV, JSONL or Parquet) or `.txt` sidecars.

The table (`--table`, or `metadata.csv|jsonl|parquet` at the top of the input) names each image by its path relative to the input folder (`file_name`, as Hugging Face's
imagefolder metadata does); every other column is kept (generator, seed, ...). Images without a
row and rows without an image are reported and left out. Without a table, `<name>.txt` beside
`<name>.png` is its prompt (WebDataset's convention); an image without one gets no prompt (scoring
then scores the aspects that need none). The id is the image's relative path (unique by
construction), or `--id-column` of the table (refused when not unique).

Images are assigned to output shards `part-NNNNN.parquet` in the sorted order of their paths,
`rows_per_shard` each: a rerun on the same input makes the same work lists (`worklist.py`), so
resume is exact. The images and sidecars themselves are read by the ingest stage, not here.
"""

from __future__ import annotations

import io
import posixpath

from agiqa.errors import ConfigError
from agiqa.ingest.check import IMAGE_SUFFIXES
from agiqa.ingest.formats import (
    DEFAULT_TABLES,
    FILE_COLUMNS,
    PROMPT_COLUMNS,
    extra_names,
    pick_column,
    refuse_duplicates,
)
from agiqa.ingest.report import Skip
from agiqa.ingest.shards import IngestPlan, OutputShard, no_input
from agiqa.ingest.worklist import work_table
from agiqa.storage.parquet import read_table as read_parquet  # not pq.read_table: see the module


def read_table(uri: str, store):
    """A CSV, JSONL/JSON-lines or Parquet table, read whole (a table of prompts, not of images)."""
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson

    lower = uri.lower()
    try:
        data = store.read_bytes(uri)
    except FileNotFoundError:
        raise ConfigError(f"--table {uri} does not exist") from None
    try:
        if lower.endswith(".parquet"):
            return read_parquet(io.BytesIO(data))
        if lower.endswith((".jsonl", ".json", ".ndjson")):
            return pjson.read_json(io.BytesIO(data))
        if lower.endswith((".csv", ".tsv")):
            opts = pcsv.ParseOptions(delimiter="\t" if lower.endswith(".tsv") else ",", newlines_in_values=True)
            return pcsv.read_csv(io.BytesIO(data), parse_options=opts)
    except Exception as e:
        raise ConfigError(f"--table {uri} cannot be read: {type(e).__name__}: {e}") from None
    raise ConfigError(f"--table {uri}: use a .csv, .tsv, .jsonl or .parquet file")


def default_table(root: str, store) -> str | None:
    from agiqa.storage.uri import join

    for name in DEFAULT_TABLES:
        if store.exists(join(root, name)):
            return join(root, name)
    return None


def _norm(path) -> str:
    p = posixpath.normpath(str(path).replace("\\", "/"))
    return p[2:] if p.startswith("./") else p


def plan_folder(cfg, store) -> IngestPlan:
    images = {f.rel: f for f in store.list_files(cfg.input, IMAGE_SUFFIXES)}
    if not images:
        raise no_input(cfg, f"images ({', '.join(IMAGE_SUFFIXES)})")
    skipped: list[Skip] = []
    rows: dict[str, tuple] = {}  # image rel -> (table row or None, id or None, prompt, sidecar file or None)
    extras, renamed = None, {}
    table_uri = cfg.table or default_table(cfg.input, store)
    if table_uri:
        from agiqa.storage import open_store

        table = read_table(table_uri, open_store(table_uri, cfg.storage))
        names = table.column_names
        where = f"table {table_uri}"
        file_col = pick_column(names, cfg.file_column, FILE_COLUMNS, "file column", where)
        prompt_col = pick_column(names, cfg.prompt_column, PROMPT_COLUMNS, "prompt column", where)
        id_col = pick_column(names, cfg.id_column, (), "id column", where, required=False)
        keep, renamed = extra_names(names, {file_col, prompt_col} | ({id_col} if id_col else set()))
        extras = table.select(keep)
        files = [_norm(v) if v is not None else None for v in table.column(file_col).to_pylist()]
        refuse_duplicates([f for f in files if f is not None], f"file names in column {file_col!r} of {where}")
        if id_col:
            refuse_duplicates(table.column(id_col).to_pylist(), f"ids in column {id_col!r} of {where}")
        prompts = table.column(prompt_col).to_pylist()
        ids = table.column(id_col).to_pylist() if id_col else [None] * table.num_rows
        for i, (f, p, rid) in enumerate(zip(files, prompts, ids, strict=True)):
            if f is None:
                skipped.append(Skip(f"{where} row {i}", "row_without_file", f"column {file_col!r} is empty"))
            elif f not in images:
                skipped.append(Skip(f, "row_without_image", f"{where} row {i} names {f}, which is not in the input"))
            else:
                rows[f] = (i, rid, p, None)
        for rel in images:
            if rel not in rows:
                skipped.append(Skip(rel, "image_without_row", f"no row of {where} names this image"))
    else:
        sidecars = {f.rel: f for f in store.list_files(cfg.input, (".txt",))}
        for rel in images:
            rows[rel] = (None, None, None, sidecars.get(rel.rsplit(".", 1)[0] + ".txt"))
    order = sorted(rows)
    per = cfg.rows_per_shard
    shards = [OutputShard(f"part-{k // per:05d}.parquet", _work_list(order[k:k + per], images, rows, extras, renamed))
              for k in range(0, len(order), per)]
    return IngestPlan("folder", shards, skipped)


def _work_list(rels: list[str], images: dict, rows: dict, extras, renamed: dict):
    """One output shard's work list: its images in path order, their ids, prompts, table columns."""
    import pyarrow as pa

    files = [images[rel] for rel in rels]
    found = [rows[rel] for rel in rels]
    sidecars = [r[3] for r in found]
    src = {"src.item": rels, "src.uri": [f.uri for f in files], "src.etag": [f.etag for f in files],
           "src.prompt_uri": [s.uri if s else None for s in sidecars],
           "src.prompt_etag": [s.etag if s else None for s in sidecars]}
    ids = [rel if rid is None else rid for rel, (_, rid, _, _) in zip(rels, found, strict=True)]
    taken = extras.take(pa.array([r[0] for r in found], pa.int64())) if extras is not None else None
    return work_table(src, ids, [r[2] for r in found], taken, renamed)
