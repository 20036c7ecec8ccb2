"""Work lists: what ingest's planning hands the runner, one small Parquet shard per output shard.

Planning reads only cheap metadata (names, sizes, etags, table rows, tar headers and captions) and
writes, for each output shard, a work-list shard with the same relative name under
`<output>.agiqa/work/ingest/` (`agiqa.storage.layout.work_root`): one row per output row, naming
where its image is and what the row will hold. The runner then runs `agiqa.stages.ingest.IngestStage`
over these shards like any pass (Ray or local, attempts, manifests, resume), so N input files
become one output shard simply as a work list of N rows.

Columns: `src.*` say where the image (and a sidecar prompt) is and how the report names the row;
`row.*` are the output row's own columns (`row.id`, `row.prompt`, then the extras, typed as the
input had them). Writing is deterministic: the same listing gives the same bytes, and a work list
whose bytes are already there is not rewritten, so its etag (the runner's resume key) stays put and
an unchanged input is skipped shard for shard. A work-list row changes whenever its source does
(the image's, tar's, shard's or sidecar's etag is in it), so a changed input redoes its shard.
"""

from __future__ import annotations

import io

ROW = "row."
ID, PROMPT = ROW + "id", ROW + "prompt"
#: name -> Arrow type name, in the work list's order; every work list has all of them.
SRC = {
    "src.index": "int64",  # the row's number in its work list (names its reject record)
    "src.item": "string",  # how the report names it (a relative path, `tar:key.jpg`, `shard#row`)
    "src.uri": "string",  # the image file, the tar, or the Parquet shard holding the image
    "src.etag": "string",  # of that file: a changed source changes the work list
    "src.offset": "int64",  # tar: where the image member's data starts
    "src.size": "int64",  # tar: its size
    "src.row": "int64",  # Parquet: the row of the shard holding the image
    "src.column": "string",  # Parquet: the image column
    "src.prompt_uri": "string",  # a `.txt` sidecar holding the prompt (read by the stage)
    "src.prompt_etag": "string",
}
SOURCE_COLUMNS = (*SRC, PROMPT)  # never copied to the output (the stage writes `prompt` itself)


def work_table(src: dict[str, list], ids: list, prompts: list, extras=None, renamed: dict | None = None):
    """The work list of one output shard: `src` columns (missing ones null), ids, prompts, extras
    (a `pyarrow.Table` with the same rows, or None); extras named id/image/prompt become `source_<name>`."""
    import pyarrow as pa

    n = len(ids)
    arrays, names = [], []
    for name, typ in SRC.items():
        values = src.get(name)
        if name == "src.index":
            values = list(range(n))
        arrays.append(pa.array(values if values is not None else [None] * n, type=getattr(pa, typ)()))
        names.append(name)
    arrays += [pa.array([None if v is None else str(v) for v in ids], pa.string()),
               pa.array([None if v is None else str(v) for v in prompts], pa.string())]
    names += [ID, PROMPT]
    if extras is not None:
        for field, col in zip(extras.schema, extras.columns, strict=True):
            if pa.types.is_null(field.type):  # null in every row of one input, string elsewhere
                col = col.cast(pa.string())
            arrays.append(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
            names.append(ROW + (renamed or {}).get(field.name, field.name))
    return pa.Table.from_arrays(arrays, names=names)


def empty_extras(schema):
    """A zero-row extras table of `schema` (an input whose rows all went to the report)."""
    return schema.empty_table()


def serialize(table) -> bytes:
    """The work list's bytes: fixed writer settings, no schema metadata (same table, same bytes)."""
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(None), buf, compression="zstd", row_group_size=1 << 16)
    return buf.getvalue()


def write_worklist(store, root: str, rel: str, table) -> bool:
    """Write one work-list shard unless the same bytes are there already; True when written."""
    import os

    from agiqa.storage.uri import join

    uri, data = join(root, rel), serialize(table)
    info = store.info(uri)
    if info is not None and info.size == len(data) and store.read_bytes(uri) == data:
        return False
    tmp = store.temp_path_for(uri)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        store.commit_file(tmp, uri)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


def remove_stale(store, root: str, keep: set[str]) -> list[str]:
    """Delete work-list shards the plan no longer has (the input shrank): a pass would run them."""
    from agiqa.storage.base import StorageError

    try:
        listed = store.list_files(root, (".parquet",))
    except (StorageError, FileNotFoundError):
        return []
    stale = [f for f in listed if f.rel not in keep]
    for f in stale:
        store.delete(f.uri)
    return [f.rel for f in stale]


def output_layout(names: list[str]) -> list[tuple[str, str]]:
    """The output file's columns from the joined ones: `id, image, prompt`, then the extras in the
    work list's order (`row.` taken off). `agiqa.runner.stage.ShardOutput.columns`."""
    first = [(ID, "id"), ("image", "image"), ("prompt", "prompt")]
    rest = [(n, n[len(ROW):]) for n in names if n.startswith(ROW) and n != ID]
    return [p for p in first if p[0] in names] + rest
