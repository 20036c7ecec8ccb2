"""The hidden-state tap: the scoring pass's per-token states, taken inside the generation engine.

vLLM serves one task kind per engine: a generation runner cannot pool, and a pooling runner
cannot generate. Two engines would mean two weight copies and two vision passes per (row,
aspect), so agiqa serves both rounds from one generation engine and takes the scoring pass's
final hidden states (after the final norm) as they leave the model, with this worker extension
(vLLM's `worker_extension_cls`, mixed into every worker):

- `agiqa_tap_install` wraps the V1 model runner's `execute_model` (to see the step's schedule)
  and `_model_forward` (to see its output, outside any compiled graph or CUDA graph);
- each forward, the tokens of requests whose id starts with `agiqa-score:ASPECT:` are sliced out
  of the flattened batch (the runner lays them out in `input_batch.req_ids` order, one slice of
  `num_scheduled_tokens` each) and, where the aspect has one, projected by the head's folded
  `hidden->D` map on the device. Only [L, D] is kept (D = 512 for the authors' heads);
- chunks are stored by their first position, so chunked prefill and preemption (a recomputed
  chunk overwrites itself) assemble the same [L, D];
- `agiqa_tap_take` returns finished requests' states as (shape, float32 bytes): only [L, D]
  crosses to the host and the engine's IPC.

A scoring request is a generation request for one token that never reads the prefix cache
(`skip_reading_prefix_cache`), so every position of its prompt runs through the model.
Requires the V1 model runner (`VLLM_USE_V2_MODEL_RUNNER=0`, which `engines/vllm.py` sets); checked
at install, with the reason, on both supported vLLM lines (0.26 on torch 2.11 GPU nodes, 0.32 on
CPU).
"""

from __future__ import annotations

import re

SCORE_PREFIX = "agiqa-score:"
#: vLLM appends "-<8 random chars>" to the caller's request id; agiqa's ids end in a 32-hex key.
_KEY = re.compile(r"^(agiqa-score:[^:]+:[0-9a-f]{32})")


def score_request_id(aspect: str, key: str) -> str:
    return f"{SCORE_PREFIX}{aspect}:{key}"


class HiddenStateTap:
    """Mixed into vLLM's worker class: `self.model_runner` is the worker's model runner."""

    def agiqa_tap_install(self, projections: dict[str, str | None]) -> bool:
        """Start tapping. `projections`: aspect -> an M3 head's safetensors file (its `proj.*` is the folded
        hidden->D map, applied on the device) or None (keep the full hidden width, for parity checks)."""
        import torch

        from agiqa.engines.projection import Projections

        runner = self.model_runner
        for name in ("execute_model", "_model_forward", "input_batch"):
            if not hasattr(runner, name):
                raise RuntimeError(f"agiqa's hidden-state tap needs vLLM's V1 model runner ({type(runner).__name__} "
                                   f"has no {name}); set VLLM_USE_V2_MODEL_RUNNER=0")
        proj = Projections.load({a: p for a, p in projections.items() if p is not None}, runner.device).maps
        if getattr(self, "_agiqa_tap", None) is not None:  # reinstall: new projections, same wrappers
            self._agiqa_tap["proj"] = proj
            return True
        state = {"proj": proj, "chunks": {}, "schedule": None}
        self._agiqa_tap = state
        execute, forward = runner.execute_model, runner._model_forward

        def execute_model(scheduler_output, *args, **kwargs):
            state["schedule"] = scheduler_output
            try:
                return execute(scheduler_output, *args, **kwargs)
            finally:
                state["schedule"] = None

        def model_forward(*args, **kwargs):
            out = forward(*args, **kwargs)
            schedule = state["schedule"]
            if schedule is None:  # a profiling or warm-up run
                return out
            hidden = out[0] if isinstance(out, tuple) else out
            batch, offset = runner.input_batch, 0
            for i, rid in enumerate(batch.req_ids):
                n = schedule.num_scheduled_tokens.get(rid, 0)
                if rid.startswith(SCORE_PREFIX):
                    key = _KEY.match(rid)
                    if key is not None:
                        aspect = rid[len(SCORE_PREFIX):].split(":", 1)[0]
                        # a copy, never a view: under CUDA graphs `hidden` is a static buffer the next
                        # step overwrites (the projection's output is already new memory)
                        projected = aspect in state["proj"]
                        x = hidden[offset : offset + n].to(torch.float32, copy=not projected)
                        if projected:
                            x = torch.nn.functional.linear(x, *state["proj"][aspect])
                        start = int(batch.num_computed_tokens_cpu[i])
                        state["chunks"].setdefault(key.group(1), {})[start] = x
                offset += n
            return out

        runner.execute_model, runner._model_forward = execute_model, model_forward
        return True

    def agiqa_tap_take(self, keys: list[str]) -> dict[str, tuple[list[int], bytes] | str]:
        """Pop each request's states: (shape, float32 bytes), or an error text when its positions do not
        run from 0 without a gap (a prefix-cache hit or a lost chunk: refused, never padded)."""
        import torch

        out: dict = {}
        chunks = self._agiqa_tap["chunks"]
        for k in keys:
            parts = chunks.pop(k, None)
            if not parts:
                out[k] = "no hidden states were captured"
                continue
            pos, pieces = 0, []
            for start in sorted(parts):
                if start != pos:
                    break
                pieces.append(parts[start])
                pos += parts[start].shape[0]
            if pos == 0 or len(pieces) != len(parts):
                out[k] = f"positions captured from {sorted(parts)} do not run from 0 without a gap"
                continue
            t = torch.cat(pieces).cpu().contiguous()
            out[k] = (list(t.shape), t.numpy().tobytes())
        return out

    def agiqa_tap_drop(self, keys: list[str]) -> int:
        """Forget requests that will never be taken (aborted)."""
        return sum(self._agiqa_tap["chunks"].pop(k, None) is not None for k in keys)
