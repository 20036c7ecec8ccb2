"""`agiqa.Scorer`: score images in this process, from a notebook or a script; no Ray, no shards.

    from agiqa import Scorer

    scorer = Scorer("m3-agiqa", model="/models/qwen2-vl-agiqa", aspects=["quality"])
    table = scorer.score(images=[pil_image, png_bytes, "gen/0001.png"], prompts=["a red fox", ...])
    table.to_pandas()          # when pandas is installed

It is built from the same `MethodConfig` registry as `agiqa score` and runs the same `ScoreStage`
(`prepare_values` + `process`), so decoding, prompt cleaning, bad-row isolation, `status`/`error`
and rating words are those of the jobs, and the scores equal the job's for the same rows. What it
does not do: shards, resume, manifests, retries of a broken engine (that is `agiqa score`).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from agiqa.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa


class Scorer:
    """A scoring method loaded once, scoring lists of images (PIL images, encoded bytes, paths or
    `s3://` URIs, `{bytes, path}` dicts) with their prompts.

    `method`: a registered method name (`agiqa.methods.registry`; default its `DEFAULT_METHOD`);
    `model`: its model folder (the field the method's `--model` flag sets; for M3-AGIQA `engine.model`);
    `method_options`: the method's other settings, as in a job config (e.g. `engine={"batch_size": 16, "device": "cuda"}`, `heads=...`). `batch_rows`: rows handed
    to the stage at a time (the engine batches within them by its own `batch_size`).
    """

    def __init__(self, method: str | None = None, model: str | None = None, aspects: Sequence[str] | None = None,
                 *, images: dict | None = None, storage: dict | None = None, batch_rows: int = 64,
                 setup: bool = True, **method_options: Any):
        from agiqa.aspects import check_aspects
        from agiqa.data.config import ImageLimits
        from agiqa.data.sources import ImageSource
        from agiqa.extras import require
        from agiqa.methods.registry import DEFAULT_METHOD, method_config_class
        from agiqa.schema import validated
        from agiqa.stages.score import ScoreStage
        from agiqa.storage.config import StorageConfig

        method = method or DEFAULT_METHOD
        cfg_cls = method_config_class(method)
        options = dict(method_options)
        if model is not None:  # where the method's `--model` flag puts it (M3-AGIQA: engine.model)
            path = cfg_cls.cli_flags.get("model")
            if path is None:
                raise ConfigError(f"method {method!r} takes no model")
            *parents, leaf = path.split(".")
            node = options
            for part in parents:
                node[part] = dict(node.get(part) or {})
                node = node[part]
            node.setdefault(leaf, str(model))
        self.config = validated(cfg_cls, {"name": method, **options}, f"method {method!r}")
        self.aspects = tuple(check_aspects(list(aspects) if aspects else list(self.config.supported_aspects)))
        missing = [a for a in self.aspects if a not in self.config.supported_aspects]
        if missing:
            raise ConfigError(f"method {method!r} cannot score {missing}")
        require("score", self.config.requires_modules, f"scoring with {method!r}")
        self.config.check(self.aspects)
        if batch_rows < 1:
            raise ConfigError("batch_rows must be at least 1")
        self.batch_rows = batch_rows
        self.stage = ScoreStage(self.config.build(self.aspects),
                                limits=validated(ImageLimits, images or {}, "images"),
                                source=ImageSource(validated(StorageConfig, storage or {}, "storage")))
        self._set_up = False
        self._engine = None  # the engine thread (`runner.engine_loop`), started by setup
        if setup:
            self.setup()

    def setup(self) -> None:
        """Load the weights (done by the constructor unless `setup=False`), on the engine thread that
        will score, as in a job."""
        from agiqa.runner.engine_loop import EngineLoop

        if not self._set_up:
            self._engine = EngineLoop("agiqa-scorer")
            self._engine.call(self.stage.setup)
            self._set_up = True

    def close(self) -> None:
        """Free what the method holds (engines, GPU memory)."""
        if self._set_up:
            self._engine.call(self.stage.teardown)
            self._engine.close()
            self._engine, self._set_up = None, False

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def output_fields(self) -> list[pa.Field]:
        return self.stage.output_fields()

    def score(self, images: Sequence, prompts: Sequence[str | None] | None = None,
              ids: Sequence | None = None, base: str | None = None) -> pa.Table:
        """One row per image: `id` (given, else 0..n-1), `prompt`, then the job's score columns
        (`<aspect>_score`, `<aspect>_rating`, the method's extras, `status`, `error_code`, `error`).
        Relative paths resolve against `base` (a folder or a file in it; default: the working directory)."""
        import pyarrow as pa

        images = list(images)
        n = len(images)
        prompts = [None] * n if prompts is None else list(prompts)
        ids = list(range(n)) if ids is None else list(ids)
        if len(prompts) != n or len(ids) != n:
            raise ValueError(f"{n} images, {len(prompts)} prompts and {len(ids)} ids: give one of each per row")
        if base is not None and not base.endswith("/"):
            base = base + "/" if _is_folder(base) else base
        result = self._run(images, prompts, base)
        return pa.Table.from_batches([result]).add_column(0, "id", pa.array(ids)).add_column(
            1, "prompt", pa.array(prompts, pa.string()))

    def score_table(self, table: pa.Table | pa.RecordBatch, image_column: str = "image",
                    prompt_column: str = "prompt", base: str | None = None) -> pa.Table:
        """A table in agiqa's input layout in, the job's output layout out: every input column but the
        image (clashing names get `input_`), then the score columns; what Ray Data's class calls."""
        import pyarrow as pa

        from agiqa.runner.shard import joined_schema

        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        for c in (image_column, prompt_column):
            if c not in table.column_names:
                raise ConfigError(f"no column {c!r}; the table has {table.column_names}")
        layout = SimpleNamespace(drop_columns=(image_column,), output_fields=self.stage.output_fields)
        schema, _ = joined_schema(table.schema, layout, table.schema.metadata or {})
        result = self._run(table.column(image_column).to_pylist(), table.column(prompt_column).to_pylist(), base)
        kept = table.drop_columns([image_column])
        columns = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in kept.columns]
        return pa.Table.from_arrays(columns + list(result.columns), schema=schema)

    def _run(self, images: list, prompts: list, base: str | None) -> pa.RecordBatch:
        import pyarrow as pa

        self.setup()
        batches = []
        for start in range(0, len(images), self.batch_rows):
            stop = start + self.batch_rows
            prepared = self.stage.prepare_values(images[start:stop], prompts[start:stop], base)
            batches.append(self._engine.call(self.stage.process, prepared))
        schema = pa.schema(self.stage.output_fields())
        if not batches:
            return pa.RecordBatch.from_pylist([], schema=schema)
        return pa.Table.from_batches(batches, schema=schema).combine_chunks().to_batches()[0]


def _is_folder(path: str) -> bool:
    import os

    from agiqa.storage.uri import is_s3

    return is_s3(path) or os.path.isdir(path)
