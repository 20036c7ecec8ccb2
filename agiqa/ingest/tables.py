"""Parquet whose image column is encoded bytes, a `{bytes, path}` struct (how Hugging Face `datasets`
writes an `Image()` column), or a path/URI (relative to the shard's folder).

Each input shard becomes one output shard with the same relative name. Planning reads every column
but the image into the work list (`worklist.py`); the ingest stage reads the image column by row
group. Images named by path are read through the same `ImageSource` scoring uses (so `agiqa score` reads such
tables directly too; ingesting them makes the images travel with the rows). The id is `--id-column`
(refused at the end when not unique), else `<shard>#<row>`. Every other column is kept.
"""

from __future__ import annotations

from agiqa.data.sources import refuse_urls
from agiqa.errors import ConfigError
from agiqa.ingest.formats import PROMPT_COLUMNS, extra_names, pick_column
from agiqa.ingest.shards import IngestPlan, OutputShard, no_input, planned
from agiqa.ingest.worklist import work_table


def image_column_of(schema, given: str | None, where: str) -> str:
    import pyarrow as pa

    if given is not None or "image" in schema.names:
        return pick_column(schema.names, given or "image", (), "image column", where)
    for f in schema:
        if pa.types.is_struct(f.type) and {"bytes", "path"} <= {c.name for c in f.type}:
            return f.name
    raise ConfigError(f"{where} has no `image` column and no {{bytes, path}} struct column; it has "
                      f"{schema.names}; name it with --image-column")


def plan_parquet(cfg, store) -> IngestPlan:
    import pyarrow.parquet as pq

    shards_in = store.list_shards(cfg.input)
    if not shards_in:
        raise no_input(cfg, "*.parquet files")

    def one(s):
        with store.open_read(s.uri) as f:
            pf = pq.ParquetFile(f)
            schema = pf.schema_arrow
            where = f"shard {s.uri}"
            image_col = image_column_of(schema, cfg.image_column, where)
            prompt_col = pick_column(schema.names, cfg.prompt_column, PROMPT_COLUMNS, "prompt column", where,
                                     required=False)
            id_col = pick_column(schema.names, cfg.id_column, (), "id column", where, required=False)
            if pf.metadata.num_row_groups:
                first = pf.read_row_group(0, columns=[image_col]).column(0).slice(0, 16).to_pylist()
                refuse_urls(first, image_col, where)
            used = {image_col} | {c for c in (prompt_col, id_col) if c}
            keep, renamed = extra_names(schema.names, used)
            # every column but the image: the rows' own data, small next to the images
            rest = pf.read(columns=list(dict.fromkeys([*keep, *(c for c in (prompt_col, id_col) if c)])))
        n = rest.num_rows
        ids = [f"{s.rel}#{i}" for i in range(n)] if not id_col else \
            [f"{s.rel}#{i}" if v is None else v for i, v in enumerate(rest.column(id_col).to_pylist())]
        prompts = rest.column(prompt_col).to_pylist() if prompt_col else [None] * n
        src = {"src.item": [f"{s.rel}#{i}" for i in range(n)], "src.uri": [s.uri] * n, "src.etag": [s.etag] * n,
               "src.row": list(range(n)), "src.column": [image_col] * n}
        return OutputShard(s.rel, work_table(src, ids, prompts, rest.select(keep), renamed))

    return IngestPlan("parquet", list(planned(one, shards_in)), [])
