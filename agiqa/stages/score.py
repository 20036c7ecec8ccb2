"""ScoreStage: any scoring method over record batches, with the row work every method shares.

Written once here, for every method: images decoded and prompts cleaned (bad rows marked, never
failing the shard), rows the method cannot take isolated by retrying them one at a time, `status`
and `error` per row, and a rating word per score. The method sees only good rows.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import pyarrow as pa

from agiqa.aspects import spec_metadata
from agiqa.data.config import ColumnsConfig, ImageLimits
from agiqa.data.images import BadRow, clean_prompt, decode_image, plain
from agiqa.data.sources import ImageSource
from agiqa.methods.base import MethodOutput, ScoringMethod
from agiqa.resources import Resources
from agiqa.runner.engine_loop import offload
from agiqa.runner.stage import ShardOutput

log = logging.getLogger(__name__)
_TIME_LOCK = threading.Lock()  # module-level: a stage is pickled to its actors, a lock cannot be


@dataclass
class PreparedRows:
    n: int
    images: list  # RGB PIL image or None per row
    prompts: list  # cleaned prompt or None per row
    errors: list  # reason or None per row
    codes: list  # stable error code or None per row
    no_prompt: list  # BadRow for a row scored without its prompt (the prompt aspects left null), or None
    columns: dict = field(default_factory=dict)  # the method's own input columns (`input_columns`), raw


def score_fields(method: ScoringMethod) -> list[pa.Field]:
    """The columns a score stage writes, in order: per aspect score and rating, the method's extras,
    then `status`, `error_code` (stable, for GROUP BY) and `error` (the reason, in words)."""
    fields: list[pa.Field] = []
    extras = {f.name: f for f in method.extra_fields()}
    for a in method.aspects:
        fields += [pa.field(f"{a}_score", pa.float32(), metadata=spec_metadata(method.spec)),
                   pa.field(f"{a}_rating", pa.string())]
        fields += [f for name, f in extras.items() if name.startswith(f"{a}_")]
    fields += [f for f in extras.values() if f not in fields]
    return fields + [pa.field("status", pa.string()), pa.field("error_code", pa.string()),
                     pa.field("error", pa.string())]


class ScoreStage:
    name = "score"

    def __init__(self, method: ScoringMethod, columns: ColumnsConfig | None = None,
                 limits: ImageLimits | None = None, resources: Resources | None = None, keep_image: bool = False,
                 source: ImageSource | None = None, synthesise_ids: bool = True, name: str = "score"):
        #: The job's stage this is ("score", or a cascade's "prefilter"): its pool, progress and identity name it.
        self.name = name
        self.method = method
        #: An input without the id column gets `<shard>#<row>` ids (see `stages.added_columns`).
        self.synthesise_ids = synthesise_ids
        self.source = source or ImageSource()
        self.columns = columns or ColumnsConfig()
        #: Unset choices made for the method: heads imported from the reference get its input handling.
        self.limits = (limits or ImageLimits()).for_method(bool(getattr(method, "reference_heads", lambda: False)()))
        self.input_handling = self.limits.handling()
        self.resources = resources or method.resources
        #: Columns the method reads per row besides image and prompt (e.g. M3's given descriptions).
        self.method_columns = tuple(method.input_columns)
        self.required_columns = (self.columns.image, self.columns.prompt, *self.method_columns)
        self.drop_columns = () if keep_image else (self.columns.image,)
        self.outputs = (ShardOutput("scored"),)
        self._prepare_s = 0.0
        self._schema: pa.Schema | None = None

    @property
    def times(self) -> dict[str, float]:
        """Seconds spent so far: decoding, and the method's own parts (for job figures and benchmarks)."""
        return {"prepare": self._prepare_s, **self.method.times}

    def identity(self) -> dict:
        return {"stage": self.name, "method": self.method.name, "aspects": list(self.method.aspects),
                "method_identity": self.method.identity(), "columns": self.columns.model_dump(),
                "images": self.limits.model_dump()}

    def output_fields(self) -> list[pa.Field]:
        return score_fields(self.method)

    def added_input_columns(self, schema: pa.Schema, rel: str) -> list:
        from agiqa.stages.added_columns import added_columns

        return added_columns(schema, self.columns.id, self.columns.image, self.synthesise_ids)

    def setup(self) -> None:
        self.method.setup()

    def teardown(self) -> None:
        self.method.teardown()

    # -- prepare pool (several batches at once) -------------------------------------------------
    def prepare(self, batch: pa.RecordBatch, side=None, shard=None) -> PreparedRows:
        """Decode and clean one batch. Image cells are bytes, `{bytes, path}` structs or paths (relative
        to the folder of `shard`, the input shard); see `agiqa.data.sources`."""
        prep = self.prepare_values(batch.column(self.columns.image).to_pylist(),
                                   batch.column(self.columns.prompt).to_pylist(),
                                   shard.uri if shard is not None else None)
        prep.columns = {c: batch.column(c).to_pylist() for c in self.method_columns}
        return prep

    def prepare_values(self, images: list, prompts: list, base: str | None = None) -> PreparedRows:
        """`prepare` on plain lists: what the Python API calls with PIL images, bytes or paths."""
        t0 = time.perf_counter()
        n = len(images)
        out = PreparedRows(n, [None] * n, [None] * n, [None] * n, [None] * n, [None] * n)
        without_prompt = set(self.method.aspects) - set(self.method.prompt_aspects)
        preprocess = self.method.preprocess
        for i, (data, prompt) in enumerate(zip(images, prompts, strict=True)):
            try:
                out.images[i] = decode_image(self.source.load(data, base), self.limits)
                if preprocess is not None:
                    out.images[i] = _preprocessed(preprocess, out.images[i])
                try:
                    out.prompts[i] = clean_prompt(prompt, self.limits)
                except BadRow as e:
                    if not without_prompt:  # every aspect asked for needs the prompt
                        raise
                    out.prompts[i], out.no_prompt[i] = "", e
            except BadRow as e:
                out.errors[i], out.codes[i] = str(e), e.code
                out.images[i] = out.prompts[i] = None
        with _TIME_LOCK:  # prepare runs on several threads
            self._prepare_s += time.perf_counter() - t0  # summed over the pool's threads
        return out

    # -- engine thread (its event loop) ---------------------------------------------------------
    async def process(self, prep: PreparedRows) -> pa.RecordBatch:
        errors, codes = list(prep.errors), list(prep.codes)
        good = [i for i in range(prep.n) if errors[i] is None]
        results = await self._score_isolating(good, prep, errors, codes)
        aspects, spec = self.method.aspects, self.method.spec
        needs_prompt = set(self.method.prompt_aspects)
        partial = [i in results and prep.no_prompt[i] is not None for i in range(prep.n)]
        for i in range(prep.n):
            if partial[i]:
                skipped = [a for a in aspects if a in needs_prompt]
                codes[i], errors[i] = prep.no_prompt[i].code, f"{', '.join(skipped)} not scored: {prep.no_prompt[i]}"
        cols: dict[str, list] = {}
        for a in aspects:
            scores = [results[i].scores[a][0] if i in results and not (partial[i] and a in needs_prompt) else None
                      for i in range(prep.n)]
            cols[f"{a}_score"] = scores
            cols[f"{a}_rating"] = [None if s is None else spec.rating(s) for s in scores]
        for f in self.method.extra_fields():
            cols[f.name] = [results[i].extras[f.name][0] if i in results else None for i in range(prep.n)]
        cols["status"] = ["partial" if partial[i] else "ok" if i in results else "error" for i in range(prep.n)]
        cols["error_code"] = codes
        cols["error"] = errors
        if self._schema is None:
            self._schema = pa.schema(self.output_fields())
        return pa.RecordBatch.from_pydict(cols, schema=self._schema)

    async def _score_isolating(self, rows: list[int], prep: PreparedRows, errors: list,
                               codes: list) -> dict[int, MethodOutput]:
        """Per good row, its single-row slice of the method's output. If the batch fails, each row is
        retried alone and the failing ones marked; if every row fails alone too, the method itself
        is broken and the batch error propagates (the runner retries the shard)."""
        if not rows:
            return {}
        try:
            return _split(rows, await self._score(prep, rows))
        except Exception as batch_error:
            log.warning("%s failed for a batch of %d (%s); isolating the bad rows", self.method.name, len(rows),
                        batch_error)
            out: dict[int, MethodOutput] = {}
            for i in rows:
                try:
                    out.update(_split([i], await self._score(prep, [i])))
                except Exception as e:
                    errors[i] = plain(f"{self.method.name} failed: {type(e).__name__}: {e}")
                    codes[i] = "method_failed"
            if not out and len(rows) > 1:
                raise batch_error
            return out

    async def _score(self, prep: PreparedRows, rows: list[int]) -> MethodOutput:
        images, prompts = [prep.images[i] for i in rows], [prep.prompts[i] for i in rows]
        columns = {c: [v[i] for i in rows] for c, v in prep.columns.items()}
        out = await offload(self.method.score, images, prompts, columns)
        check_range(self.method, out)
        return out


def check_range(method: ScoringMethod, out: MethodOutput) -> None:
    """Refuse scores outside the range a method declares (`ScoreSpec.bounded`): a broken promise is a
    method bug, and a column silently off its scale would mislead every rating, filter and audit."""
    spec = method.spec
    for a, values in out.scores.items():
        if bad := spec.outside(values):
            raise ValueError(f"{method.name} returned {a} score {values[bad[0]]!r} outside its declared range "
                             f"[{spec.low:g}, {spec.high:g}] ({len(bad)} of {len(values)} in the batch)")


def _preprocessed(preprocess, image):
    """The method's per-image CPU work (resize, crop, normalise) on the I/O thread; a failure marks the row."""
    try:
        return preprocess(image)
    except Exception as e:
        raise BadRow("preprocess_failed", f"preprocessing failed: {type(e).__name__}: {e}") from None


def _split(rows: list[int], result: MethodOutput) -> dict[int, MethodOutput]:
    return {i: MethodOutput({a: [v[k]] for a, v in result.scores.items()},
                            {f: [v[k]] for f, v in result.extras.items()}) for k, i in enumerate(rows)}
