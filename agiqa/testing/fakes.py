"""FakeMethod: a real `ScoringMethod` with no model, for runner tests and benchmarks.

Its scores are a function of the pixels and the prompt, so a test can recompute them from the
input alone. It can also misbehave on purpose, by content (so the fault follows the row wherever
it runs, on any actor): refuse rows whose prompt contains `refuse`, or kill its process.
Registered as method `fake`, which shows a method added without touching the runner, the actors
or the config loader.
"""

from __future__ import annotations

import os
import time
from typing import Literal

from agiqa.aspects import ASPECTS, MOS_SPEC
from agiqa.methods.base import MethodBase, MethodConfig, MethodOutput
from agiqa.methods.registry import register_method
from agiqa.resources import Resources


def fake_score(image, prompt: str, aspect: str) -> float:
    """The score FakeMethod gives: the mean pixel, shifted per aspect and by prompt length, on 0-5."""
    import numpy as np

    mean = float(np.asarray(image, dtype=np.float32).mean()) / 255.0
    return round((mean * 4.0 + ASPECTS.index(aspect) * 0.25 + (len(prompt) % 7) / 14.0) % 5.0, 4)


@register_method
class FakeConfig(MethodConfig):
    name: Literal["fake"] = "fake"
    seconds_per_row: float = 0.0  # sleep per row, as a GPU engine would hold the batch (releases the GIL)
    refuse: str | None = None  # rows whose prompt contains this raise inside the method
    die_on: str | None = None  # the process exits hard when a row's prompt contains this ...
    die_marker: str | None = None  # ... once, when this file does not exist yet (it is created first)
    #: Once `die_marker` exists (a first death happened), setup exits hard this many times in all,
    #: counted in `setup_death_log` (across processes): replacement actors that die while starting.
    setup_deaths: int = 0
    setup_death_log: str | None = None
    weights: str | None = None  # a file whose content digest is the method's identity (retrain = rewrite)
    teardown_log: str | None = None  # each teardown appends its process id here (seen across processes)
    shift: float = 0.0  # added to every score (a cascade test tells a prefilter's scores from the main method's)
    #: (lo, hi) seconds: `score` becomes a coroutine that waits a per-batch time in [lo, hi], chosen from the
    #: batch's prompts (deterministic, so batches finish out of order the same way in every run), as an
    #: async engine holds a batch for as long as its longest description takes.
    batch_latency_s: tuple[float, float] | None = None
    completion_log: str | None = None  # each finished batch appends its first prompt here (completion order)
    lower_is_better: bool = False  # the spec says lower scores are better (as a distortion or error score would)

    def build(self, aspects: tuple[str, ...]):
        return FakeMethod(self, aspects)


class FakeMethod(MethodBase):
    name = "fake"
    resources = Resources(num_gpus=0.0, num_cpus=1.0)
    prompt_aspects = ("correspondence",)

    def __init__(self, cfg: FakeConfig | None = None, aspects: tuple[str, ...] = ASPECTS):
        self.cfg = cfg or FakeConfig()
        self.aspects = tuple(aspects)
        #: fake_score lies in [0, 5); a shift moves it off that scale, so the spec then says unbounded.
        self.spec = MOS_SPEC if self.cfg.shift == 0 else MOS_SPEC.unbounded()
        if self.cfg.lower_is_better:
            from dataclasses import replace

            self.spec = replace(self.spec, higher_is_better=False)
        self.setups = self.teardowns = self.calls = 0

    def identity(self) -> dict:
        from agiqa.methods.digest import file_digest

        ident = {"method": self.name, "refuse": self.cfg.refuse, "shift": self.cfg.shift}
        if self.cfg.weights:
            ident["weights"] = file_digest(self.cfg.weights) if os.path.exists(self.cfg.weights) else None
        return ident

    def extra_fields(self):
        import pyarrow as pa

        return [pa.field("fake_note", pa.string())]

    def setup(self) -> None:
        self.setups += 1
        log, marker = self.cfg.setup_death_log, self.cfg.die_marker
        if self.cfg.setup_deaths and log and marker and os.path.exists(marker):
            died = len(open(log).read().splitlines()) if os.path.exists(log) else 0
            if died < self.cfg.setup_deaths:
                with open(log, "a") as f:
                    f.write(f"{os.getpid()}\n")
                os._exit(1)

    def score(self, images: list, prompts: list[str], columns: dict | None = None):
        if self.cfg.batch_latency_s is not None:
            return self._score_later(images, prompts)
        return self._score_now(images, prompts)

    def latency(self, prompts: list[str]) -> float:
        import zlib

        lo, hi = self.cfg.batch_latency_s
        return lo + (hi - lo) * (zlib.crc32("\n".join(prompts).encode()) % 1000) / 999

    async def _score_later(self, images: list, prompts: list[str]) -> MethodOutput:
        import asyncio

        await asyncio.sleep(self.latency(prompts))
        return self._score_now(images, prompts)

    def _score_now(self, images: list, prompts: list[str]) -> MethodOutput:
        self.calls += 1
        for p in prompts:
            if self.cfg.die_on and self.cfg.die_on in p:
                marker = self.cfg.die_marker
                if marker is None or not os.path.exists(marker):
                    if marker is not None:
                        open(marker, "w").close()
                    os._exit(1)
            if self.cfg.refuse and self.cfg.refuse in p:
                raise RuntimeError(f"fake refusal of {p!r}")
        if self.cfg.seconds_per_row:
            time.sleep(self.cfg.seconds_per_row * len(images))
        if self.cfg.completion_log and prompts:
            with open(self.cfg.completion_log, "a") as f:
                f.write(prompts[0] + "\n")
        return MethodOutput(
            scores={a: [fake_score(im, p, a) + self.cfg.shift for im, p in zip(images, prompts, strict=True)]
                    for a in self.aspects},
            extras={"fake_note": [f"{len(p)} chars" for p in prompts]},
        )

    def teardown(self) -> None:
        self.teardowns += 1
        if self.cfg.teardown_log:
            with open(self.cfg.teardown_log, "a") as f:
                f.write(f"{os.getpid()}\n")


class ThresholdStage:
    """A stage with two outputs and its own statuses: rows whose side-input `column` is at least
    `threshold` are `kept` (written with their image to `kept/`), the rest `dropped` (written without
    it to `dropped/`). The shape of a filter pass over scores computed by an earlier pass."""

    name = "threshold"
    drop_columns = ()

    def __init__(self, column: str, threshold: float, image_column: str = "image", num_cpus: float = 1.0):
        from agiqa.runner.stage import ShardOutput

        self.column, self.threshold = column, threshold
        self.required_columns = (image_column,)
        self.resources = Resources(num_cpus=num_cpus)
        self.outputs = (ShardOutput("kept", folder="kept", statuses=("kept",)),
                        ShardOutput("dropped", folder="dropped", statuses=("dropped",), drop_columns=(image_column,)))

    def identity(self) -> dict:
        return {"stage": self.name, "column": self.column, "threshold": self.threshold}

    def output_fields(self):
        import pyarrow as pa

        return [pa.field("side_value", pa.float64()), pa.field("status", pa.string())]

    def setup(self) -> None:
        pass

    def prepare(self, batch, side, shard=None):
        if side is None:
            raise ValueError("ThresholdStage needs a side input")
        return side.column(self.column).to_pylist()

    def process(self, values):
        import pyarrow as pa

        status = ["kept" if v is not None and v >= self.threshold else "dropped" for v in values]
        return pa.RecordBatch.from_pydict({"side_value": values, "status": status},
                                          schema=pa.schema(self.output_fields()))

    def teardown(self) -> None:
        pass
