"""The engine for MiniCPM-Llama3-V 2.5 (hf: transformers + peft), faithful to the authors' M3-AGIQA.

Round 1 is the model's `chat(image, [user], sampling=False)`: the image sliced with the model's own
slice count (9), the Llama-3 template with an assistant header, beam search (3 beams, repetition
penalty 1.2, up to 1024 new tokens, stop at `<|end_of_text|>`/`<|eot_id|>`), batched with left padding.
The scoring pass is the predictor's forward: the conversation without an assistant header, sliced with
the head's own slice count, ids cut at the tail to the head's `max_length`, hidden states after the
final norm at every position, adapters unmerged, fp16 on GPU as the reference (fp32 on CPU),
batched with right padding (the model is causal, so a row's states do not depend on its batch).
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from pathlib import Path

import torch

from agiqa.engines.base import DescribeRequest, ScoringRequest, adapter_dirs
from agiqa.engines.config import decoding
from agiqa.engines.minicpmv.inputs import Encoded, MiniCPMVInputs, scoring_messages
from agiqa.engines.minicpmv.model import MiniCPMV25
from agiqa.engines.projection import Projections

log = logging.getLogger(__name__)

FAMILY = "minicpmv-2.5"
#: The model's `chat` caps its input at this many tokens (`max_inp_length`).
DESCRIBE_MAX_INPUT = 2048


def resolve_dtype(device: str, dtype: str):
    """'auto' -> float16 on GPU (the reference's dtype), float32 on CPU."""
    from agiqa.engines.base import resolve_device_dtype

    dev, dt = resolve_device_dtype(device, dtype)
    if dtype == "auto" and dev.type == "cuda":
        dt = torch.float16
    return dev, dt


class MiniCPMVEngine:
    projections = Projections()
    family = FAMILY

    def __init__(self, cfg, aspects: tuple[str, ...]):
        self.cfg = cfg
        self.aspects = tuple(aspects)
        self.device, self.dtype = resolve_dtype(cfg.device, cfg.dtype)
        self.inputs = MiniCPMVInputs(cfg.model)
        self.tokenizer = self.inputs.tokenizer
        self.conversation = None  # the reference fits nothing: it cuts the tail (see inputs.py)
        model = MiniCPMV25.from_pretrained(cfg.model, dtype=self.dtype)
        self.adapters = adapter_dirs(cfg.adapters_dir, self.aspects)
        loaded = [a for a, d in self.adapters.items() if d is not None]
        if loaded:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(self.adapters[loaded[0]]), adapter_name=loaded[0])
            for a in loaded[1:]:
                model.load_adapter(str(self.adapters[a]), adapter_name=a)
        self.model = model.to(self.device).eval()
        self.base: MiniCPMV25 = self.model.get_base_model() if loaded else self.model
        self.hidden_size = int(self.base.config.hidden_size)
        self.decoding = decoding(cfg, FAMILY)
        for a, d in self.adapters.items():
            log.info("aspect %s: %s", a, f"adapter {d}" if d else "base model (no adapter)")

    def _use(self, aspect: str):
        if self.base is self.model:
            return contextlib.nullcontext()
        if self.adapters.get(aspect) is None:
            return self.model.disable_adapter()
        self.model.set_adapter(aspect)
        return contextlib.nullcontext()

    def _groups(self, requests):
        by_aspect: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(requests):
            by_aspect[r.aspect].append(i)
        for aspect, idx in by_aspect.items():
            for s in range(0, len(idx), self.cfg.batch_size):
                yield aspect, idx[s : s + self.cfg.batch_size]

    def _embed(self, encs: list[Encoded], left: bool):
        """Padded input embeddings and attention mask for a batch of encoded conversations."""
        feats = [self.base.vision_features(e.images) for e in encs]
        longest = max(len(e.ids) for e in encs)
        ids = torch.zeros(len(encs), longest, dtype=torch.long)
        mask = torch.zeros(len(encs), longest, dtype=torch.long)
        bounds = []
        for i, e in enumerate(encs):
            off = longest - len(e.ids) if left else 0
            ids[i, off : off + len(e.ids)] = torch.tensor(e.ids)
            mask[i, off : off + len(e.ids)] = 1
            bounds.append([(s + off, t + off) for s, t in e.bounds])
        ids, mask = ids.to(self.device), mask.to(self.device)
        return self.base.embed(ids, bounds, feats), mask

    @torch.inference_mode()
    def describe(self, requests: list[DescribeRequest]) -> list[str]:
        out = [""] * len(requests)
        d = self.decoding
        for aspect, idx in self._groups(requests):
            encs = [self.inputs.encode(requests[i].image, [("user", requests[i].first_turn)],
                                       self.inputs.describe_slices, DESCRIBE_MAX_INPUT, generation_prompt=True)
                    for i in idx]
            with self._use(aspect):
                emb, mask = self._embed(encs, left=True)
                gen = self.base.llm.generate(
                    inputs_embeds=emb, attention_mask=mask, max_new_tokens=d.max_new_tokens, do_sample=False,
                    num_beams=d.num_beams, repetition_penalty=d.repetition_penalty,
                    eos_token_id=self.inputs.stop_ids, pad_token_id=0)
            for i, row in zip(idx, gen.tolist(), strict=True):
                out[i] = self.inputs.decode(row)
        return out


    def encode_scoring(self, r: ScoringRequest) -> Encoded:
        slices = r.max_slices or self.inputs.describe_slices
        return self.inputs.encode(r.image, scoring_messages(r), slices, r.max_length or self.cfg.max_length,
                                  generation_prompt=False)

    @torch.inference_mode()
    def hidden_states(self, requests: list[ScoringRequest]) -> list[torch.Tensor]:
        out: list[torch.Tensor | None] = [None] * len(requests)
        for aspect, idx in self._groups(requests):
            encs = [self.encode_scoring(requests[i]) for i in idx]
            with self._use(aspect):
                emb, mask = self._embed(encs, left=False)
                hs = self.base.hidden_states(emb, mask)
            for j, i in enumerate(idx):
                out[i] = self.projections.apply(aspect, hs[j, : len(encs[j].ids)])
        return out  # type: ignore[return-value]

    def project_with(self, heads: dict) -> None:
        """From now on `hidden_states` returns each aspect's states through its head's folded map, applied on
        this engine's device: [L, D] instead of [L, hidden] (`engines/projection.py`)."""
        self.projections = Projections.load(heads, self.device)

    def lm_head(self, aspect: str):
        w = self.base.llm.lm_head.weight
        return w.detach().float().cpu(), None

    def close(self) -> None:
        self.model = self.base = None  # type: ignore[assignment]
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def is_family(model_dir: str | Path) -> bool:
    from agiqa.engines.minicpmv.model import is_minicpmv25

    return is_minicpmv25(model_dir)
