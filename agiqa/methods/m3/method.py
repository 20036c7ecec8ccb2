"""M3Method: the engine (with every aspect's adapter) and one head per aspect behind `ScoringMethod`."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from agiqa.aspects import MOS_SPEC
from agiqa.engines.config import PERFORMANCE_ONLY, decoding
from agiqa.errors import ConfigError
from agiqa.methods.base import MethodBase, MethodOutput
from agiqa.methods.digest import folder_digest
from agiqa.methods.m3.inputs import description_reserve, fitted_conversations
from agiqa.methods.m3.two_round import Conversation, converse, two_round
from agiqa.model.head_config import WEIGHTS_NAME
from agiqa.resources import Resources

log = logging.getLogger(__name__)


class M3Method(MethodBase):
    name = "m3-agiqa"
    #: Aspects whose questions are about the generation prompt: without one they cannot be scored.
    prompt_aspects = ("correspondence",)
    #: One MLLM per GPU; on CPU-only clusters the runner gives it the node's CPUs.
    resources = Resources(num_gpus=1.0, num_cpus=1.0)

    def __init__(self, cfg, aspects: tuple[str, ...]):
        self.cfg = cfg
        self.aspects = tuple(aspects)
        #: 0-5, bounded when the head clamps (the default, as the reference's inference); `clamp: false` gives
        #: the head's raw output, so the spec says unbounded (0-5 stays the rating words' scale).
        self.spec = MOS_SPEC if cfg.clamp else MOS_SPEC.unbounded()
        #: Input columns `score` reads besides image and prompt (given descriptions), aspect -> column.
        self.description_columns = cfg.description_columns(self.aspects)
        self.input_columns = tuple(dict.fromkeys(self.description_columns.values()))
        self.engine = None
        self.heads: dict = {}
        self.prompts = None
        #: Seconds per part: round 1 and the scoring pass apart on the hf engine; on an async engine both
        #: rounds overlap, so their sum is `engine`.
        self.times = {"describe": 0.0, "hidden": 0.0, "head": 0.0}

    # -- before any work ---------------------------------------------------------------------
    def identity(self) -> dict:
        from agiqa.engines.base import adapter_dirs

        e = self.cfg.engine
        try:
            adapters = adapter_dirs(e.adapters_dir, self.aspects)
        except FileNotFoundError as err:
            raise ConfigError(str(err)) from None
        return {
            "method": self.name,
            "base_model": folder_digest(e.model),
            "adapters": {a: folder_digest(d, recursive=True) if d else None for a, d in adapters.items()},
            "heads": {a: folder_digest(Path(self.cfg.heads_dir) / a, recursive=True) for a in self.aspects},
            "prompt_set": self.cfg.prompt_set,
            "describe": self.cfg.describe,
            "descriptions_from": self.cfg.descriptions_from,
            "clamp": self.cfg.clamp,
            "engine": e.model_dump(exclude={"model", "adapters", *PERFORMANCE_ONLY}),
        }

    def reference_heads(self) -> bool:
        """Whether every head was imported from the authors' checkpoints (`import-reference-heads`): such a
        job defaults to the reference's input handling (`ImageLimits.for_method`). Reads head configs only."""
        from agiqa.model.head_config import M3HeadConfig

        try:
            notes = [M3HeadConfig.load(Path(self.cfg.heads_dir) / a).notes or {} for a in self.aspects]
        except (OSError, ValueError):
            return False  # no heads yet: `check` reports that, with its fix
        return bool(notes) and all(str(n.get("imported_from", "")).startswith("M3-AGIQA") for n in notes)

    def extra_fields(self):
        import pyarrow as pa

        return [pa.field(f"{a}_description", pa.string()) for a in self.aspects] + [pa.field("m3_note", pa.string())]

    # -- on the actor --------------------------------------------------------------------------
    def setup(self) -> None:
        from agiqa.engines import build_engine
        from agiqa.model.prompts import get_prompt_set

        self.cfg.check(self.aspects)
        log.info("loading %s (%s engine) with adapters and heads for %s", self.cfg.engine.model, self.cfg.engine.name,
                 ", ".join(self.aspects))
        self.prompts = get_prompt_set(self.cfg.prompt_set)
        self.engine = build_engine(self.cfg.engine, self.aspects)
        try:
            self.heads = self._load_heads(self.engine.hidden_size, getattr(self.engine, "device", "cpu"))
            self.engine.project_with(self.head_files())
        except Exception:
            self.teardown()
            raise

    def head_files(self) -> dict[str, Path]:
        """aspect -> its head's weights (the engine applies each head's folded projection, `proj`)."""
        return {a: Path(self.cfg.heads_dir) / a / WEIGHTS_NAME for a in self.aspects}

    def _load_heads(self, hidden_size: int, device) -> dict:
        from agiqa.model.head import M3Head

        heads = {}
        for a in self.aspects:
            head = M3Head.load(Path(self.cfg.heads_dir) / a, device=device)
            hc = head.config
            if hc.hidden_size != hidden_size:
                raise ConfigError(f"head {a!r} expects hidden size {hc.hidden_size} but the model has {hidden_size}: "
                                  "it was trained for another base model")
            if hc.context_length < (hc.max_length or self.cfg.engine.max_length):
                raise ConfigError(f"head {a!r} has context_length {hc.context_length} < "
                                  f"max_length {hc.max_length or self.cfg.engine.max_length}")
            if not hc.trained:
                log.warning("head %r is untrained (random init): its scores carry no meaning", a)
            heads[a] = head
        return heads

    def score(self, images: list, prompts: list[str], columns: dict[str, list] | None = None):
        """Scores and descriptions per row. On an async engine (vLLM) a coroutine: every (row, aspect)
        conversation in flight at once, each aspect's head run on the engine's device as soon as that
        aspect's conversations are done; on the hf engine a plain call, batched by aspect."""
        if hasattr(self.engine, "encode"):
            return self._score_async(images, prompts, columns)
        return self._score_sync(images, prompts, columns)

    async def _score_async(self, images: list, prompts: list[str], columns: dict[str, list] | None) -> MethodOutput:
        import asyncio

        given = self._given_descriptions(len(images), columns or {})
        convs, notes = self._conversations(images, prompts, given)
        k = len(self.aspects)
        scores: dict[str, list[float]] = {}
        descriptions: dict[str, list[str]] = {}
        t0, head_s = time.perf_counter(), 0.0

        async def aspect(j: int, a: str) -> None:
            nonlocal head_s
            done = await asyncio.gather(*(converse(c, self.engine.generate, self.engine.encode, self.cfg.describe)
                                          for c in convs[j::k]))
            t = time.perf_counter()
            scores[a] = [float(s) for s in self.heads[a].score_projected([s for _, s in done],
                                                                         clamp=self.cfg.clamp).tolist()]
            head_s += time.perf_counter() - t
            descriptions[a] = [d for d, _ in done]

        await asyncio.gather(*(aspect(j, a) for j, a in enumerate(self.aspects)))
        self.times["engine"] = self.times.get("engine", 0.0) + time.perf_counter() - t0 - head_s
        self.times["head"] += head_s
        return MethodOutput(scores={a: scores[a] for a in self.aspects},
                            extras={**{f"{a}_description": descriptions[a] for a in self.aspects}, "m3_note": notes})

    def _score_sync(self, images: list, prompts: list[str], columns: dict[str, list] | None) -> MethodOutput:
        given = self._given_descriptions(len(images), columns or {})
        convs, notes = self._conversations(images, prompts, given)
        t0 = time.perf_counter()
        timed = _Timed()
        descriptions, hidden = two_round(convs, timed.wrap(self.engine.describe), self.engine.hidden_states,
                                         with_description=self.cfg.describe)
        t1 = time.perf_counter()
        out = MethodOutput(scores={}, extras={})
        k = len(self.aspects)
        for j, a in enumerate(self.aspects):
            out.scores[a] = [float(s) for s in self.heads[a].score_projected(hidden[j::k], clamp=self.cfg.clamp).tolist()]
            out.extras[f"{a}_description"] = descriptions[j::k]
        out.extras["m3_note"] = notes
        self.times["describe"] += timed.seconds
        self.times["hidden"] += t1 - t0 - timed.seconds
        self.times["head"] += time.perf_counter() - t1
        return out

    def _given_descriptions(self, n: int, columns: dict[str, list]) -> dict[str, list]:
        """Aspect -> the given description per row (`descriptions_from`); a row without one fails."""
        out = {}
        for a, col in self.description_columns.items():
            values = columns.get(col)
            if values is None or len(values) != n:
                raise ValueError(f"descriptions_from: column {col!r} was not passed to the method")
            for v in values:
                if not isinstance(v, str):
                    raise ValueError(f"no description in column {col!r} for this row ({a})")
            out[a] = values
        return out

    def _conversations(self, images: list, prompts: list[str],
                       given: dict[str, list] | None = None) -> tuple[list[Conversation], list[str | None]]:
        """Every (row, aspect) conversation, fitted to what the model takes (`inputs.py`, shared with
        training: extreme images padded, long prompts cut), with each head's token limits and the given
        descriptions; what was changed is said per row (the `m3_note` column)."""
        from dataclasses import replace

        e = self.cfg.engine
        convs, notes = fitted_conversations(images, prompts, self.aspects, self.prompts,
                                            getattr(self.engine, "conversation", None),
                                            description_reserve(decoding(e).max_new_tokens, e.max_length,
                                                                self.cfg.describe), e.max_length)
        given = given or {}
        k = len(self.aspects)
        out = []
        for j, c in enumerate(convs):  # row-major: row j // k, aspect c.aspect
            row, a = j // k, c.aspect
            hc = self.heads[a].config if a in self.heads else None
            out.append(replace(c, max_length=getattr(hc, "max_length", None),
                               max_slices=getattr(hc, "max_slice_nums", None),
                               description=given[a][row] if a in given else None))
        return out, notes

    def teardown(self) -> None:
        if self.engine is not None:
            self.engine.close()  # vLLM: `shutdown`, which frees the GPU
            self.engine = None


class _Timed:
    """Wraps a call to add up its seconds (round 1 apart from the scoring pass, for the job's figures)."""

    def __init__(self):
        self.seconds = 0.0

    def wrap(self, fn):
        def call(*args):
            t = time.perf_counter()
            try:
                return fn(*args)
            finally:
                self.seconds += time.perf_counter() - t

        return call
