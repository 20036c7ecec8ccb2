"""A cheap but real BatchProcessor for storage and orchestration benchmarks.

It decodes every image (the real `decode_image`) and scores mean brightness, optionally sleeping
a fixed time per batch to stand in for a GPU engine. It lets the benchmarks measure what the
storage and Ray layers cost, without a model's time drowning it.
"""

from __future__ import annotations

import os
import time

import pyarrow as pa

from agiqa.pipeline.images import BadRow, decode_image
from agiqa.pipeline.processor import output_fields


class LightProcessor:
    def __init__(self, cfg, sleep_s: float = 0.0):
        self.cfg, self.sleep_s = cfg, sleep_s
        self.aspects = tuple(cfg.aspects)
        self.image_column = cfg.columns.image
        self.required_columns = (cfg.columns.image, cfg.columns.prompt)
        self.busy_s = 0.0

    def output_schema(self) -> pa.Schema:
        return pa.schema(output_fields(self.aspects))

    def prepare(self, batch: pa.RecordBatch):
        out = []
        for data in batch.column(self.image_column).to_pylist():
            try:
                im = decode_image(data, self.cfg.images)
                out.append((sum(im.convert("L").getdata()) / (im.width * im.height) / 51.0, None))
            except BadRow as e:
                out.append((None, str(e)))
        return out

    def process(self, prepared) -> pa.RecordBatch:
        t = time.perf_counter()
        if self.sleep_s:
            time.sleep(self.sleep_s)
        cols: dict[str, list] = {}
        for a in self.aspects:
            cols[f"{a}_score"] = [s for s, _ in prepared]
            cols[f"{a}_rating"] = [None if s is None else "fair" for s, _ in prepared]
            cols[f"{a}_description"] = [None for _ in prepared]
        cols["status"] = ["ok" if e is None else "error" for _, e in prepared]
        cols["error"] = [e for _, e in prepared]
        self.busy_s += time.perf_counter() - t
        return pa.RecordBatch.from_pydict(cols, schema=self.output_schema())


def build(cfg):
    """Factory for `run_on_ray(..., factory="bench.light_processor:build")`."""
    return LightProcessor(cfg, sleep_s=float(os.environ.get("AGIQA_BENCH_SLEEP_S", "0")))
