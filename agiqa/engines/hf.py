"""The transformers + peft engine: CPU or CUDA, one process, all aspects' adapters loaded once.

It is the reference implementation the vLLM engine is held to, and the engine for machines
without vLLM. When every adapter is LoRA, a batch mixes aspects: PEFT's `adapter_names` picks each
row's adapter inside one `generate` / forward (greedy round 1; beam search stays grouped), so a
batch of B rows x 3 aspects is one call, not three. Otherwise requests are grouped by aspect (one
active adapter at a time). Either way they are batched:
left padding for generation, right padding for the scoring pass, so a row's hidden states do
not depend on the other rows in its batch (the model is causal; padding comes after).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import torch

from agiqa.engines.base import DescribeRequest, ScoringRequest, adapter_dirs, resolve_device_dtype
from agiqa.engines.config import decoding
from agiqa.engines.conversation import ConversationRenderer
from agiqa.engines.projection import Projections

log = logging.getLogger(__name__)


class HFEngine:
    projections = Projections()

    def __init__(self, cfg, aspects: tuple[str, ...]):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.cfg = cfg
        self.aspects = tuple(aspects)
        self.device, self.dtype = resolve_device_dtype(cfg.device, cfg.dtype)
        model_dir = Path(cfg.model)
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"no model at {model_dir} (config.json missing); see `agiqa make-tiny-model`")
        self.processor = AutoProcessor.from_pretrained(
            model_dir, size={"shortest_edge": cfg.min_pixels, "longest_edge": cfg.max_pixels}
        )
        self.tokenizer = self.processor.tokenizer
        self.conversation = ConversationRenderer(self.processor, cfg.max_length)
        model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=self.dtype, attn_implementation="sdpa")
        self.adapters = adapter_dirs(cfg.adapters_dir, self.aspects)
        loaded = [a for a, d in self.adapters.items() if d is not None]
        if loaded:
            from peft import PeftModel

            first = loaded[0]
            model = PeftModel.from_pretrained(model, str(self.adapters[first]), adapter_name=first)
            for a in loaded[1:]:
                model.load_adapter(str(self.adapters[a]), adapter_name=a)
        self.model = model.to(self.device).eval()
        #: Mixed-adapter batches (PEFT `adapter_names`): every adapter is plain LoRA.
        self._mixed = bool(loaded) and all(
            getattr(c, "peft_type", None) == "LORA" and not getattr(c, "modules_to_save", None)
            for c in self.model.peft_config.values())
        self.base = self.model.get_base_model() if loaded else self.model
        self._own_decoding()
        self.hidden_size = int(self.base.config.get_text_config().hidden_size)
        for a, d in self.adapters.items():
            log.info("aspect %s: %s", a, f"adapter {d}" if d else "base model (no adapter)")

    def _own_decoding(self) -> None:
        """Drop the checkpoint's decoding defaults (generation_config.json: repetition penalty, top-k, ...):
        `generate` would silently apply them and vLLM would not. Only its special tokens are kept; every
        decoding setting is passed explicitly from the engine config (`agiqa.engines.config.decoding`)."""
        from transformers import GenerationConfig

        ckpt = self.base.generation_config
        self.base.generation_config = GenerationConfig(
            bos_token_id=ckpt.bos_token_id, eos_token_id=ckpt.eos_token_id, pad_token_id=ckpt.pad_token_id)

    # -- adapter selection -------------------------------------------------------------------
    def _use(self, aspect: str):
        """Context in which the model runs with `aspect`'s adapter (or none)."""
        import contextlib

        if self.base is self.model:
            return contextlib.nullcontext()
        if self.adapters.get(aspect) is None:
            return self.model.disable_adapter()
        self.model.set_adapter(aspect)
        return contextlib.nullcontext()

    def _mixed_groups(self, requests):
        """(adapter per row, indices) batches over all aspects together (`adapter_names`)."""
        bs = self.cfg.batch_size * len(self.aspects)
        for s in range(0, len(requests), bs):
            idx = list(range(s, min(s + bs, len(requests))))
            yield [r.aspect if self.adapters.get(r.aspect) else "__base__" for r in (requests[i] for i in idx)], idx

    def _batches(self, requests, mixed: bool):
        """(context to run the batch in, its indices): mixed adapters, or one aspect at a time."""
        if mixed:
            for names, idx in self._mixed_groups(requests):
                yield self.model._enable_peft_forward_hooks(adapter_names=names), idx
        else:
            for aspect, idx in self._groups(requests):
                yield self._use(aspect), idx

    def _groups(self, requests):
        by_aspect: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(requests):
            by_aspect[r.aspect].append(i)
        bs = self.cfg.batch_size
        for aspect, idx in by_aspect.items():
            for s in range(0, len(idx), bs):
                yield aspect, idx[s : s + bs]

    # -- round 1 -----------------------------------------------------------------------------
    @torch.inference_mode()
    def describe(self, requests: list[DescribeRequest]) -> list[str]:
        out: list[str] = [""] * len(requests)
        d = decoding(self.cfg)
        # a static KV cache: fixed shapes, which transformers compiles the decode step for on CUDA
        static = {"cache_implementation": "static"} if self.cfg.static_cache else {}
        for context, idx in self._batches(requests, self._mixed and d.num_beams == 1):
            texts = [self.conversation.describe_prompt(requests[i].first_turn) for i in idx]
            enc = self.processor(
                text=texts, images=[requests[i].image for i in idx], padding=True, padding_side="left",
                return_tensors="pt",
            ).to(self.device)
            with context:
                gen = self.base.generate(**enc, **static, max_new_tokens=d.max_new_tokens, do_sample=False,
                                         num_beams=d.num_beams, repetition_penalty=d.repetition_penalty)
            new = gen[:, enc["input_ids"].shape[1] :]
            for i, text in zip(idx, self.tokenizer.batch_decode(new, skip_special_tokens=True), strict=True):
                out[i] = text.strip()
        return out

    # -- scoring pass ------------------------------------------------------------------------
    @torch.inference_mode()
    def hidden_states(self, requests: list[ScoringRequest]) -> list[torch.Tensor]:
        out: list[torch.Tensor | None] = [None] * len(requests)
        for context, idx in self._batches(requests, self._mixed):
            texts = [self.conversation.scoring_prompt(requests[i]) for i in idx]
            enc = self.processor(
                text=texts, images=[requests[i].image for i in idx], padding=True, padding_side="right",
                return_tensors="pt",
            ).to(self.device)
            with context:
                hs = self.base.model(**enc).last_hidden_state
            lengths = enc["attention_mask"].sum(1).tolist()
            for j, i in enumerate(idx):
                out[i] = self.projections.apply(requests[i].aspect, hs[j, : lengths[j]])
        return out  # type: ignore[return-value]

    def project_with(self, heads: dict) -> None:
        """From now on `hidden_states` returns each aspect's states through its head's folded map, applied on
        this engine's device: [L, D] instead of [L, hidden] (`engines/projection.py`)."""
        self.projections = Projections.load(heads, self.device)

    def lm_head(self, aspect: str):
        head = self.base.get_output_embeddings()
        bias = getattr(head, "bias", None)
        return head.weight.detach().float().cpu(), None if bias is None else bias.detach().float().cpu()

    def close(self) -> None:
        self.model = self.base = None  # type: ignore[assignment]
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
