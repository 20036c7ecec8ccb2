"""The vLLM engine as it was before one engine served both rounds: for `bench_engines.py` only.

Two vLLM runners in one process over the same model (two weight copies, two vision passes per
(row, aspect)): a generation `LLM` for round 1 and a pooling `LLM` (`token_embed`, pooling ALL)
for the scoring pass, each called once per batch; the head projection runs on the host. Kept so
the benchmark can measure the one-engine design against it side by side, on the same rows.
"""

from __future__ import annotations

import os

from agiqa.engines.config import decoding
from agiqa.engines.projection import Projections


class TwoEngineVLLM:
    def __init__(self, like):
        """Built from a set-up `VLLMEngine` (`like`): its config, renderer and adapters."""
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        cfg = like.cfg
        self.cfg, self.aspects, self.hidden_size = cfg, like.aspects, like.hidden_size
        self.conversation, self.tokenizer, self.device = like.conversation, like.tokenizer, "cpu"
        self.lora = {a: LoRARequest(a, i + 1, str(d)) for i, (a, d) in enumerate(like.adapters.items()) if d}
        common = dict(model=str(cfg.model), dtype=like.dtype, max_model_len=cfg.max_length + decoding(cfg).max_new_tokens
                      + 64, limit_mm_per_prompt={"image": 1, "video": 0}, max_num_seqs=cfg.max_num_seqs, seed=0,
                      enable_lora=bool(self.lora), max_loras=max(1, len(self.lora)), max_lora_rank=cfg.max_lora_rank,
                      mm_processor_kwargs={"min_pixels": cfg.min_pixels, "max_pixels": cfg.max_pixels})
        self.gen = LLM(**common)
        self.pool = LLM(runner="pooling", convert="embed", pooler_config={"task": "token_embed", "pooling_type": "ALL",
                                                                          "use_activation": False}, **common)
        self.projections = Projections()

    def describe(self, requests):
        from vllm import SamplingParams

        d = decoding(self.cfg)
        prompts = [{"prompt": self.conversation.describe_prompt(r.first_turn), "multi_modal_data": {"image": r.image}}
                   for r in requests]
        params = SamplingParams(temperature=0.0, max_tokens=d.max_new_tokens, repetition_penalty=d.repetition_penalty)
        outs = self.gen.generate(prompts, params, lora_request=[self.lora.get(r.aspect) for r in requests],
                                 use_tqdm=False)
        return [self.tokenizer.decode(o.outputs[0].token_ids, skip_special_tokens=True).strip() for o in outs]

    def hidden_states(self, requests):
        prompts = [{"prompt": self.conversation.scoring_prompt(r), "multi_modal_data": {"image": r.image}}
                   for r in requests]
        outs = self.pool.encode(prompts, pooling_task="token_embed",
                                lora_request=[self.lora.get(r.aspect) for r in requests], use_tqdm=False)
        return [self.projections.apply(r.aspect, o.outputs.data) for r, o in zip(requests, outs, strict=True)]

    def project_with(self, heads) -> None:
        self.projections = Projections.load(heads, "cpu")

    def close(self) -> None:
        self.gen = self.pool = None
