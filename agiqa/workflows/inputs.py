"""Checks on a job's input made before any model loads: what the first rows of the first shard hold."""

from __future__ import annotations

#: Rows looked at: enough to see what a column holds, cheap on any shard.
PEEK_ROWS = 16


def refuse_url_images(input_root: str, image_column: str, storage_cfg=None) -> None:
    """ConfigError (with the remedy) when the first shard's image column holds http(s) URLs.

    Only the first rows of the first shard are read (one column of one row group); a missing
    root, shard or column is left to the runner, which reports it the usual way.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from agiqa.data.sources import refuse_urls
    from agiqa.storage import open_store
    from agiqa.storage.layout import data_shards

    try:
        store = open_store(input_root, storage_cfg)
        shards = data_shards(store, input_root)
    except Exception:
        return
    if not shards:
        return
    try:
        with store.open_read(shards[0].uri) as f:
            pf = pq.ParquetFile(f)
            if image_column not in pf.schema_arrow.names or pf.metadata.num_row_groups == 0:
                return
            kind = pf.schema_arrow.field(image_column).type
            if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
                return  # encoded bytes: nothing to peek at
            values = pf.read_row_group(0, columns=[image_column]).column(0).slice(0, PEEK_ROWS).to_pylist()
    except Exception:
        return
    refuse_urls(values, image_column, f"shard {shards[0].uri}")


#: Names other tools give the columns agiqa reads (img2dataset, webdataset, Hugging Face datasets, LAION).
SYNONYMS = {
    "prompt": ("caption", "text", "prompt_text", "TEXT", "txt", "description", "sentence"),
    "image": ("jpg", "png", "webp", "jpeg", "img", "image_bytes", "bytes"),
    "id": ("key", "__key__", "uid", "image_id", "sample_id", "name", "file_name"),
}
#: Tables agiqa does not read as input (only `agiqa ingest` does, with the images they name).
TABLE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".txt", ".xlsx")


def did_you_mean(names: list[str], wanted: str, role: str) -> str:
    """' (did you mean 'caption'? name it with --prompt-column caption)', or ''."""
    import difflib

    near = [c for c in SYNONYMS.get(role, ()) if c in names] or difflib.get_close_matches(wanted, names, n=1)
    return f"; did you mean {near[0]!r}? (--{role}-column {near[0]})" if near else ""


def check_input(input_root: str, columns, storage_cfg=None, extra_columns: tuple[str, ...] = ()) -> None:
    """Refuse, in one line before any model loads, what the input's listing and first shard already
    show: a table given as input (ingest it first), and a missing image, prompt or method column, or
    an explicitly named id column that is missing (each with a did-you-mean). A missing default id
    column is not an error: ids are synthesised (`stages.added_columns`). Unreadable shards are left
    to the runner, which reports them shard by shard."""
    import logging

    import pyarrow.parquet as pq

    from agiqa.errors import ConfigError
    from agiqa.storage import open_store
    from agiqa.storage.layout import data_shards

    if str(input_root).lower().endswith(TABLE_SUFFIXES):
        raise ConfigError(f"input {input_root} is a table, not Parquet shards: `agiqa ingest --input IMAGES "
                          f"--table {input_root} --output SHARDS` turns it and its images into shards")
    try:
        store = open_store(input_root, storage_cfg)
        shards = [s for s in data_shards(store, input_root) if s.size > 0]
    except Exception:
        return  # the runner reports a missing or unreachable root the usual way
    if not shards:
        return
    try:
        with store.open_read(shards[0].uri) as f:
            names = pq.ParquetFile(f).schema_arrow.names
    except Exception:
        return
    where = f"input shard {shards[0].rel}"
    for role, col in (("image", columns.image), ("prompt", columns.prompt)):
        if col not in names:
            raise ConfigError(f"{where} has no {role} column {col!r}{did_you_mean(names, col, role)}; "
                              f"it has {names}")
    for col in extra_columns:
        if col not in names:
            raise ConfigError(f"{where} has no column {col!r} (the method reads it); it has {names}")
    if columns.id not in names:
        if "id" in columns.model_fields_set:
            raise ConfigError(f"{where} has no id column {columns.id!r}{did_you_mean(names, columns.id, 'id')}; "
                              f"it has {names} (leave --id-column out to get ids <shard>#<row>)")
        logging.getLogger(__name__).info("%s has no %r column: rows get ids <shard>#<row> (name one with "
                                         "--id-column)", where, columns.id)
