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

    try:
        store = open_store(input_root, storage_cfg)
        shards = store.list_shards(input_root)
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
