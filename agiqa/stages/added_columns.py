"""Columns a score stage has the runner add to the rows it reads: an id where the input has none,
and an image's path where the image is a `{bytes, path}` struct or a path (the image column itself
is never kept: for bytes it is the bulk of the data). The path is kept as the input names it.

Without them a scored shard cannot be joined back to its input: a Hugging Face `datasets`
Parquet (`Image()` feature) has no id column by default, and its image struct is the only place
the file name lives. Synthesised ids are `<shard's relative name>#<row in the shard>`: stable
across reruns and runners (rows are numbered as read, the same in every pass of a cascade, so a
prefilter's output and the main pass agree) and unique across shards.
"""

from __future__ import annotations

import pyarrow as pa

from agiqa.runner.stage import AddedColumn


def row_id_column(name: str) -> AddedColumn:
    def compute(batch: pa.RecordBatch, rel: str, start: int) -> pa.Array:
        return pa.array([f"{rel}#{start + i}" for i in range(batch.num_rows)], pa.string())

    return AddedColumn(pa.field(name, pa.string()), compute)


def image_path_column(image: str) -> AddedColumn:
    def compute(batch: pa.RecordBatch, rel: str, start: int) -> pa.Array:
        col = batch.column(image)
        return pa.compute.cast(col.field("path"), pa.string())

    return AddedColumn(pa.field(f"{image}_path", pa.string()), compute)


def added_columns(schema: pa.Schema, id_column: str, image_column: str, synthesise_ids: bool) -> list[AddedColumn]:
    """What to add for an input with `schema`: the id if it is missing (and may be made up), the path
    of a struct image (unless a column of that name exists)."""
    import pyarrow.compute  # noqa: F401  (pa.compute)

    out = []
    if synthesise_ids and id_column not in schema.names:
        out.append(row_id_column(id_column))
    if image_column in schema.names and f"{image_column}_path" not in schema.names:
        kind = schema.field(image_column).type
        if pa.types.is_struct(kind) and kind.get_field_index("path") >= 0:
            out.append(image_path_column(image_column))
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):  # the cell is the path
            out.append(AddedColumn(pa.field(f"{image_column}_path", pa.string()),
                                   lambda b, rel, start: pa.compute.cast(b.column(image_column), pa.string())))
    return out
