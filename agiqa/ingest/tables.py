"""Parquet whose image column is encoded bytes, a `{bytes, path}` struct (how Hugging Face `datasets`
writes an `Image()` column), or a path/URI (relative to the shard's folder).

Each input shard becomes one output shard with the same relative name, read batch by batch. Images
named by path are read through the same `ImageSource` scoring uses (so `agiqa score` reads such
tables directly too; ingesting them makes the images travel with the rows). The id is `--id-column`
(refused at the end when not unique), else `<shard>#<row>`. Every other column is kept.
"""

from __future__ import annotations

from agiqa.data.images import BadRow
from agiqa.data.sources import ImageSource, refuse_urls
from agiqa.errors import ConfigError
from agiqa.ingest.check import check_image
from agiqa.ingest.formats import PROMPT_COLUMNS, base_fields, extra_names, pick_column
from agiqa.ingest.report import Skip
from agiqa.ingest.shards import IngestPlan, OutputShard, no_input

BATCH_ROWS = 128


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
    source = ImageSource(cfg.storage)
    shards = []
    for s in shards_in:
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
        out_schema = base_fields(_select(schema, keep), renamed)
        identity = {"shard": [s.rel, s.etag]}
        shards.append(OutputShard(s.rel, identity, out_schema,
                                  _rows_of(s, image_col, prompt_col, id_col, keep, renamed, store, source, cfg)))
    return IngestPlan("parquet", shards, [])


def _select(schema, names):
    import pyarrow as pa

    return pa.schema([schema.field(n) for n in names])


def _rows_of(s, image_col, prompt_col, id_col, keep, renamed, store, source, cfg):
    def rows():
        import pyarrow.parquet as pq

        with store.open_read(s.uri) as f:
            start = 0
            for batch in pq.ParquetFile(f).iter_batches(batch_size=BATCH_ROWS):
                images = batch.column(image_col).to_pylist()
                prompts = batch.column(prompt_col).to_pylist() if prompt_col else [None] * batch.num_rows
                ids = batch.column(id_col).to_pylist() if id_col else [None] * batch.num_rows
                extras = batch.select(keep).to_pylist() if keep else [{}] * batch.num_rows
                for i, (cell, prompt, rid, rec) in enumerate(zip(images, prompts, ids, extras, strict=True)):
                    item = f"{s.rel}#{start + i}"
                    try:
                        data = source.load(cell, s.uri)
                        if data is None:
                            raise BadRow("image_null", "image is null")
                        check_image(bytes(data), cfg.images, cfg.verify)
                    except BadRow as e:
                        yield Skip(item, e.code, str(e))
                        continue
                    yield {"id": item if rid is None else str(rid), "image": bytes(data),
                           "prompt": None if prompt is None else str(prompt),
                           **{renamed.get(k, k): v for k, v in rec.items()}}
                start += batch.num_rows
    return rows
