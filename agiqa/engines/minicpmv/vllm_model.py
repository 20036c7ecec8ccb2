"""vLLM's own MiniCPM-V 2.5 model (`MiniCPMV2_5`), fed by agiqa's image processor instead of remote code.

vLLM ships the model (Idefics2 vision tower, `Resampler2_5`, Llama; the released parameter names load
unchanged; LoRA on the language model) but takes its image processor from the checkpoint's remote
code. This module registers the same model class under `ARCHITECTURE` with a processing info that
builds `MiniCPMV25ImageProcessor` from the folder's `preprocessor_config.json`, so nothing from the
folder is executed. One addition over vLLM's processor: `max_slice_nums` per request
(`mm_processor_kwargs`) reaches both the pixels and the placeholder text, because the scoring pass
slices with the head's own count (4 for the 20K quality head, 9 otherwise).

Imported by vLLM through the registry entry that `vllm_plugin.register()` adds, in every vLLM process.
"""

from __future__ import annotations

import inspect
import json
from functools import cache, cached_property
from pathlib import Path

import torch
from transformers import BatchFeature
from vllm.model_executor.models.minicpmv import (
    MiniCPMV2_5,
    MiniCPMVDummyInputsBuilder,
    MiniCPMVMultiModalProcessor,
    MiniCPMVProcessingInfo,
)
from vllm.multimodal import MULTIMODAL_REGISTRY
from vllm.multimodal.parse import ImageProcessorItems
from vllm.multimodal.processing import PromptReplacement, PromptUpdateDetails

from agiqa.engines.minicpmv.image_processor import MiniCPMV25ImageProcessor
from agiqa.engines.minicpmv.model import reference_position_ids
from agiqa.engines.minicpmv.slicing import SpecialTokens
from agiqa.engines.minicpmv.vllm_plugin import IMAGE_PATTERN

if not torch.backends.cuda.is_built():
    # vLLM's Resampler2_5.forward asks torch.cuda.is_current_stream_capturing(), which raises on CPU-only
    # torch builds ("dummy base class") instead of answering False; with no CUDA there is no capture.
    torch.cuda.is_current_stream_capturing = lambda: False


@cache
def tower_takes_position_ids(tower_cls: type) -> bool:
    """vLLM 0.32's Idefics2 tower takes `position_ids`; 0.26's does not, and computes them itself as the
    reference does (`arange(0, 1 - 1e-6, 1 / n)` per image), so there the tower's own ids are the
    reference's and none are passed. (0.32 divides `i / n`, which moves some patches a bucket.)"""
    return "position_ids" in inspect.signature(tower_cls.forward).parameters


class _Processor:
    """The hf-processor role vLLM gives MiniCPM-V: image tensors for one prompt's images."""

    def __init__(self, image_processor: MiniCPMV25ImageProcessor, tokenizer):
        self.image_processor, self.tokenizer = image_processor, tokenizer

    def __call__(self, text=None, images=None, max_slice_nums: int | None = None, return_tensors=None):
        out = self.image_processor(images or [], max_slice_nums=max_slice_nums)
        texts = [text] if isinstance(text, str) else list(text or [])
        out["input_ids"] = [self.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        return BatchFeature(out)


class _Info(MiniCPMVProcessingInfo):
    @cached_property
    def _agiqa_image_processor(self) -> MiniCPMV25ImageProcessor:
        path = Path(self.ctx.model_config.model) / "preprocessor_config.json"
        pre = json.loads(path.read_text()) if path.is_file() else {}
        if "image_feature_size" not in pre:
            pre["image_feature_size"] = self.get_hf_config().query_num
        return MiniCPMV25ImageProcessor(**pre)

    def get_hf_processor(self, **kwargs):
        return _Processor(self._agiqa_image_processor, self.get_tokenizer())

    def get_image_processor(self, **kwargs):
        return self._agiqa_image_processor


class _MultiModalProcessor(MiniCPMVMultiModalProcessor):
    def _get_prompt_updates(self, mm_items, hf_processor_mm_kwargs, out_mm_kwargs):
        tokenizer = self.info.get_tokenizer()
        image_processor = self.info.get_image_processor()
        slices = hf_processor_mm_kwargs.get("max_slice_nums")
        unk = [tokenizer.convert_tokens_to_ids(SpecialTokens.unk)]

        def replacement(item_idx: int):
            size = mm_items.get_items("image", ImageProcessorItems).get_image_size(item_idx)
            text = image_processor.get_slice_image_placeholder(size, max_slice_nums=slices)
            return PromptUpdateDetails.select_token_ids(tokenizer.encode(text, add_special_tokens=False), unk)

        target = tokenizer.encode(IMAGE_PATTERN, add_special_tokens=False)
        return [PromptReplacement(modality="image", target=target, replacement=replacement)]


@MULTIMODAL_REGISTRY.register_processor(_MultiModalProcessor, info=_Info, dummy_inputs=MiniCPMVDummyInputsBuilder)
class AgiqaMiniCPMV25(MiniCPMV2_5):
    """vLLM's MiniCPM-V 2.5 with agiqa's processing, and the reference's vision pass.

    vLLM runs all slices of a batch through the tower together, padded and masked. The reference
    (FIDELITY.md row 9) runs one image's source and slices together, padded to their longest patch
    row with no patch mask, so padded patches are attended and positions are bucketed over the longest
    row (`reference_position_ids`); its resampler then masks by each slice's own size. vLLM's tower
    computes exactly that given a whole-row mask and those position ids, image by image."""

    def get_vision_hidden_states(self, data):
        pixels, sizes = data["pixel_values"], data["tgt_sizes"]
        feats, start = [], 0
        for n in data["num_slices"].tolist():
            rows = pixels[start : start + n]
            longest = max(r.shape[-1] for r in rows)
            patch = rows[0].shape[-2]
            batch = rows[0].new_zeros((n, 3, patch, longest))
            for i, r in enumerate(rows):
                batch[i, ..., : r.shape[-1]] = r
            whole_rows = torch.ones((n, 1, longest // patch), dtype=torch.bool, device=batch.device)
            kwargs = {}
            if tower_takes_position_ids(type(self.vpm)):
                ids = reference_position_ids(longest // patch, self.vpm.embeddings.num_patches_per_side)
                kwargs["position_ids"] = ids.to(batch.device)[None].expand(n, -1)
            embedded = self.vpm(batch, patch_attention_mask=whole_rows, tgt_sizes=None, **kwargs)
            feats.append(self.resampler(embedded, sizes[start : start + n]))
            start += n
        return torch.cat(feats)
