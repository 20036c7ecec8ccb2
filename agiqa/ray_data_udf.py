"""agiqa inside a Ray Data pipeline of your own: `ScoreBatches`, a callable class for `Dataset.map_batches`.

Not to be confused with `runner.kind: ray-data` (`agiqa.runner.ray_data`), which runs `agiqa score`'s
shards on Ray Data with their exactly-once commits; this class scores whatever batches your pipeline
hands it and leaves reading, writing and resuming to you.

    import ray
    from agiqa.ray_data_udf import ScoreBatches

    ds = ray.data.read_parquet("s3://bucket/generated/")
    scored = ds.map_batches(ScoreBatches, batch_format="pyarrow", batch_size=64,
                            fn_constructor_kwargs={"method": "m3-agiqa", "model": "/models/agiqa"},
                            concurrency=2, num_gpus=1)
    scored.write_parquet("s3://bucket/scored/")

Each actor builds one `agiqa.Scorer` (the same method registry and `ScoreStage` as `agiqa score`),
and each batch comes back in the job's output layout: the input columns but the image, then the
score columns. Batches may be pyarrow tables, pandas frames or dicts of numpy arrays.

Limits, by design of Ray Data rather than of agiqa: there is no per-shard exactly-once commit, no
manifest and no resume. A failed or restarted pipeline recomputes (and `write_parquet` may leave
partial files); a batch whose method fails as a whole fails the pipeline's task. For resumable,
exactly-once scoring of a bucket, use `agiqa score` (any runner, `ray-data` included).
"""

from __future__ import annotations

from typing import Any


class ScoreBatches:
    """`fn_constructor_kwargs`: `method`, `model`, `aspects`, `image_column` (default `image`),
    `prompt_column` (default `prompt`), `imports` (modules registering methods of your own), and the
    method's own settings (as `agiqa.Scorer` takes them)."""

    def __init__(self, method: str = "m3-agiqa", model: str | None = None, aspects=None,
                 image_column: str = "image", prompt_column: str = "prompt", imports: tuple[str, ...] = (),
                 **options: Any):
        import importlib

        from agiqa.scorer import Scorer as InProcess

        for module in imports:  # where a method of your own calls `register_method` (run on each actor)
            importlib.import_module(module)

        self.image_column, self.prompt_column = image_column, prompt_column
        self.scorer = InProcess(method, model, aspects, **options)

    def __call__(self, batch):
        import pyarrow as pa

        table = _to_arrow(batch)
        if table.num_rows == 0:
            return table
        out = self.scorer.score_table(table, self.image_column, self.prompt_column)
        return out if isinstance(batch, pa.Table) else _like(batch, out)

    def __del__(self):
        scorer = getattr(self, "scorer", None)
        if scorer is not None:
            scorer.close()


def _to_arrow(batch):
    import pyarrow as pa

    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, dict):  # numpy batch format: column name -> array
        return pa.table({k: pa.array(list(v)) for k, v in batch.items()})
    return pa.Table.from_pandas(batch, preserve_index=False)  # pandas batch format


def _like(batch, table):
    if isinstance(batch, dict):
        return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    return table.to_pandas()
