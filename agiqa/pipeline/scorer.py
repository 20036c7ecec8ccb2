"""The M3-AGIQA batch processor: decode rows, describe (round 1), score (teacher-forced pass + head).

All aspects of all good rows of a batch go to the engine together, so an engine that can mix
adapters in one batch (vLLM) sees the whole batch at once. A row the engine cannot handle is
isolated by retrying the failed engine call row by row: that row gets `status=error`, the
others are scored. Only when every row fails is the engine itself deemed broken (the batch
raises, and the shard is retried elsewhere).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import pyarrow as pa

from agiqa.aspects import rating_for_score
from agiqa.engines.base import DescribeRequest, ScoringRequest
from agiqa.pipeline.images import BadRow, clean_prompt, decode_image
from agiqa.pipeline.processor import output_fields

log = logging.getLogger(__name__)


@dataclass
class PreparedBatch:
    n: int
    images: list  # PIL image or None per row
    prompts: list  # cleaned prompt or None per row
    errors: list  # reason or None per row


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over batches (for benchmarks and job summaries)."""

    prepare: float = 0.0
    describe: float = 0.0
    hidden: float = 0.0
    head: float = 0.0
    rows: int = 0
    extra: dict = field(default_factory=dict)


class M3Processor:
    def __init__(self, engine, heads: dict, prompts, job_cfg):
        self.engine = engine
        self.heads = heads
        self.prompts = prompts
        self.cfg = job_cfg
        self.aspects = tuple(job_cfg.aspects)
        self.image_column = job_cfg.columns.image
        self.prompt_column = job_cfg.columns.prompt
        self.required_columns = (self.image_column, self.prompt_column)
        self.times = StageTimes()

    def output_schema(self) -> pa.Schema:
        return pa.schema(output_fields(self.aspects))

    # -- CPU side (may run on a background thread) -------------------------------------------
    def prepare(self, batch: pa.RecordBatch) -> PreparedBatch:
        t0 = time.perf_counter()
        limits = self.cfg.images
        images = batch.column(self.image_column).to_pylist()
        prompts = batch.column(self.prompt_column).to_pylist()
        out = PreparedBatch(n=batch.num_rows, images=[None] * batch.num_rows, prompts=[None] * batch.num_rows,
                            errors=[None] * batch.num_rows)
        for i, (data, prompt) in enumerate(zip(images, prompts, strict=True)):
            try:
                out.prompts[i] = clean_prompt(prompt, limits)
                out.images[i] = decode_image(data, limits)
            except BadRow as e:
                out.errors[i] = str(e)
                out.images[i] = out.prompts[i] = None
        self.times.prepare += time.perf_counter() - t0
        return out

    # -- engine side -------------------------------------------------------------------------
    def process(self, prep: PreparedBatch) -> pa.RecordBatch:
        errors = list(prep.errors)
        ok = [i for i in range(prep.n) if errors[i] is None]
        pairs = [(i, a) for i in ok for a in self.aspects]
        reqs = [DescribeRequest(a, prep.images[i], self.prompts.first_turn(a, prep.prompts[i])) for i, a in pairs]

        t0 = time.perf_counter()
        if self.cfg.engine.describe:
            descriptions = self._isolating(self.engine.describe, reqs, pairs, errors, "describe")
        else:  # round 1 skipped: the head reads the image and both questions only
            descriptions = [""] * len(reqs)
        t1 = time.perf_counter()
        sreqs = [
            ScoringRequest(r.aspect, r.image, r.first_turn, d, self.prompts.second_turn(r.aspect))
            for r, d in zip(reqs, descriptions, strict=True)
        ]
        live = [k for k, (i, _) in enumerate(pairs) if errors[i] is None]
        hidden_live = self._isolating(self.engine.hidden_states, [sreqs[k] for k in live],
                                      [pairs[k] for k in live], errors, "scoring pass")
        hidden = dict(zip(live, hidden_live, strict=True))
        t2 = time.perf_counter()

        scores: dict[tuple[int, str], float] = {}
        for a in self.aspects:
            ks = [k for k in live if pairs[k][1] == a and hidden[k] is not None and errors[pairs[k][0]] is None]
            if ks:
                for k, s in zip(ks, self.heads[a].score([hidden[k] for k in ks]).tolist(), strict=True):
                    scores[pairs[k]] = s
        t3 = time.perf_counter()
        self.times.describe += t1 - t0
        self.times.hidden += t2 - t1
        self.times.head += t3 - t2
        self.times.rows += prep.n

        desc_of = {pairs[k]: descriptions[k] for k in range(len(pairs))}
        cols: dict[str, list] = {}
        for a in self.aspects:
            good = [errors[i] is None for i in range(prep.n)]
            cols[f"{a}_score"] = [scores.get((i, a)) if good[i] else None for i in range(prep.n)]
            cols[f"{a}_rating"] = [rating_for_score(scores[(i, a)]) if good[i] and (i, a) in scores else None
                                   for i in range(prep.n)]
            cols[f"{a}_description"] = [desc_of.get((i, a)) if good[i] else None for i in range(prep.n)]
        cols["status"] = ["ok" if e is None else "error" for e in errors]
        cols["error"] = errors
        return pa.RecordBatch.from_pydict(cols, schema=self.output_schema())

    def _isolating(self, call, reqs: list, pairs: list, errors: list, stage: str) -> list:
        """Run `call(reqs)`; if it fails, retry one request at a time and mark the failing rows."""
        if not reqs:
            return []
        try:
            return call(reqs)
        except Exception as batch_error:
            log.warning("%s failed for a batch of %d (%s); isolating the bad rows", stage, len(reqs), batch_error)
            results: list = []
            failures = 0
            for r, (i, a) in zip(reqs, pairs, strict=True):
                try:
                    results.append(call([r])[0])
                except Exception as e:
                    failures += 1
                    results.append(None)
                    if errors[i] is None:
                        errors[i] = f"{stage} failed ({a}): {type(e).__name__}: {e}"
            if failures == len(reqs) and len(reqs) > 1:
                raise batch_error
            return results

    def close(self) -> None:
        self.engine.close()
