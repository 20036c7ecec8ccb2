"""Every row of every shard under a root (folder or s3:// prefix), for small, whole-dataset jobs
(evaluation, training sets); scoring jobs stream shards through the runner instead."""

from __future__ import annotations


def read_rows(root: str, drop_columns: tuple[str, ...] = ()) -> list[dict]:
    """All rows, in shard order, as dicts; `drop_columns` (e.g. image bytes) are never materialised."""
    import pyarrow.parquet as pq

    from agiqa.storage import open_store
    from agiqa.storage.layout import committed_shards

    store = open_store(root)
    rows: list[dict] = []
    for shard in committed_shards(store, root):  # a job's output: the shards its manifests name
        with store.open_read(shard.uri) as f:
            pf = pq.ParquetFile(f)
            keep = [c for c in pf.schema_arrow.names if c not in drop_columns]
            rows += pf.read(columns=keep).to_pylist()
    return rows
