"""The vllm engine for MiniCPM-Llama3-V 2.5: vLLM's own model, agiqa's inputs and image processor.

One engine serves both rounds (`OneEngineVLLM`). Both passes take the ids the hf engine builds (`MiniCPMVInputs`: the reference's template, slicing and
tail truncation), with each image's placeholder collapsed to vLLM's `(<image>./</image>)`, which vLLM
expands back from the same slicing (`vllm_model.py`); the scoring pass sends the head's slice count
per request. Round 1 follows the family's decoding:
- greedy (`num_beams` 1): vLLM sampling at temperature 0 with the repetition penalty, stopping at
  `<|end_of_text|>` or `<|eot_id|>`: the same text as the hf engine;
- beam search (the family default, 3 beams): vLLM's algorithm (`vllm_beams.py`), which has no
  repetition penalty and ends a beam at one eos. The chat model ends its turn with `<|eot_id|>` (the
  released eos is `<|end_of_text|>`), so beams end there, and vLLM is given the same tokenizer with
  `<|eot_id|>` as its eos (`eot_tokenizer`); otherwise every beam would run on to the 1,024-token cap. The reference ends
  beams at either token, and applies the penalty, so the text can differ from the reference's; use
  `--engine hf` to reproduce it.
Adapters are served as LoRA on the language model; the released ones train the vision tower,
resampler and embeddings too (`modules_to_save`) and are refused with the fix (`agiqa merge-adapter`).
The vision tower masks padded patches (vLLM's Idefics2 tower), where the reference does not
(FIDELITY.md row 9): features agree with the hf engine when an image's source and slices have the same
patch count, and differ slightly otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path

from agiqa.engines.base import DescribeRequest, ScoringRequest, adapter_dirs
from agiqa.engines.config import decoding
from agiqa.engines.minicpmv.engine import DESCRIBE_MAX_INPUT, FAMILY
from agiqa.engines.minicpmv.inputs import BOS, EOT, MiniCPMVInputs, scoring_messages
from agiqa.engines.minicpmv.vllm_plugin import IMAGE_PATTERN
from agiqa.engines.vllm import OneEngineVLLM

log = logging.getLogger(__name__)


def eot_tokenizer(model_dir: str | Path) -> str:
    """A tokenizer folder for vLLM: the release's `tokenizer.json` (linked, not copied) as a plain fast
    tokenizer whose eos is `<|eot_id|>`, in agiqa's cache, keyed by the file's path and mtime. The
    release's `tokenizer_config.json` names a remote class, which is never loaded. The release's
    `config.json` is linked beside it: vLLM parses a tokenizer folder's model config, and without one it
    logs two errors and sleeps 2 s at every engine start."""
    from agiqa.paths import cache_dir

    src = Path(model_dir).resolve() / "tokenizer.json"
    key = hashlib.sha256(f"{src}:{src.stat().st_mtime_ns}".encode()).hexdigest()[:16]
    out = cache_dir() / "vllm-tokenizers" / key
    if not all((out / f).is_file() for f in ("tokenizer_config.json", "config.json")):
        out.mkdir(parents=True, exist_ok=True)  # several actors may get here at once: each step is atomic
        for name in ("tokenizer.json", "config.json"):
            with contextlib.suppress(FileExistsError):
                (out / name).symlink_to(src.parent / name)
        tmp = out / f"tokenizer_config.json.{os.getpid()}"
        tmp.write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": BOS, "eos_token": EOT,
                                   "unk_token": "<unk>", "model_max_length": 1_000_000}, indent=2) + "\n")
        os.replace(tmp, out / "tokenizer_config.json")
    return str(out)


class MiniCPMVVLLMEngine(OneEngineVLLM):
    family = FAMILY

    def __init__(self, cfg, aspects: tuple[str, ...]):
        from agiqa.engines.minicpmv.vllm_plugin import ARCHITECTURE, register
        from agiqa.engines.vllm import check_servable_adapter, require_vllm

        require_vllm()
        register()
        self.cfg = cfg
        self.aspects = tuple(aspects)
        self.decoding = decoding(cfg, FAMILY)
        self.adapters = adapter_dirs(cfg.adapters_dir, self.aspects)
        for d in self.adapters.values():
            if d is not None:
                check_servable_adapter(d)
        self.inputs = MiniCPMVInputs(cfg.model)
        self.tokenizer = self.inputs.tokenizer
        self.conversation = None
        if self.decoding.num_beams > 1 and self.decoding.repetition_penalty != 1.0:
            log.warning("vllm engine: round 1 by beam search (%d beams) WITHOUT the repetition penalty %.2f "
                        "(vLLM's beam search has none); descriptions can differ from the reference's, whose "
                        "decoding --engine hf reproduces", self.decoding.num_beams, self.decoding.repetition_penalty)
        self._start(cfg, DESCRIBE_MAX_INPUT + self.decoding.max_new_tokens,
                    hf_overrides={"architectures": [ARCHITECTURE]}, tokenizer=eot_tokenizer(cfg.model))
        self.hidden_size = int(self.driver.vllm_config.model_config.hf_config.hidden_size)

    def _prompt(self, image, messages, slices: int, max_length: int, generation_prompt: bool) -> dict:
        ids = self.inputs.pattern_ids(image.size, messages, slices, max_length, generation_prompt, IMAGE_PATTERN)
        return {"prompt_token_ids": ids, "multi_modal_data": {"image": image},
                "mm_processor_kwargs": {"max_slice_nums": slices}}

    def _decoding(self):
        return self.decoding

    def _describe_prompt(self, r: DescribeRequest) -> dict:
        return self._prompt(r.image, [("user", r.first_turn)], self.inputs.describe_slices, DESCRIBE_MAX_INPUT, True)

    def _scoring_prompt(self, r: ScoringRequest) -> dict:
        return self._prompt(r.image, scoring_messages(r), r.max_slices or self.inputs.describe_slices,
                            r.max_length or self.cfg.max_length, False)

    def _stop_ids(self) -> list[int]:
        return list(self.inputs.stop_ids)

    def _decode(self, token_ids: list[int]) -> str:
        return self.inputs.decode(list(token_ids))

    def _beam_eos(self) -> int:
        """Beams end at `<|eot_id|>`, the chat turn's end (the tokenizer vLLM is given has it as eos)."""
        return self.tokenizer.convert_tokens_to_ids(EOT)
