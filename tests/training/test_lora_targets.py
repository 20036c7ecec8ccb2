"""`--lora-targets` lands on the language model only, on every supported family.

Qwen2.5-VL's vision MLP is named gate/up/down_proj like the language model's: a LoRA given bare
names would adapt the vision tower too (vLLM cannot serve that). The expected modules are read
from the model's own module tree here, not from the code under test.
"""

import pytest
import torch

from agiqa.engines.lora import LM_LINEAR_MODULES
from agiqa.training import distill as D


def _linear_names(model) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_mlp_targets_adapt_every_language_model_linear_and_nothing_else(family, tiny_model_dir, tiny_qwen25_dir,
                                                                       tmp_path):
    from transformers import AutoModelForImageTextToText

    from agiqa.engines.vllm import check_servable_adapter

    path = tiny_model_dir if family == "qwen2_vl" else tiny_qwen25_dir
    base = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    names = _linear_names(base)
    want = sorted(n for n in names if n.startswith("model.language_model.") and n.rsplit(".", 1)[-1] in
                  LM_LINEAR_MODULES)
    vision_same_names = [n for n in names if n.startswith("model.visual.") and n.rsplit(".", 1)[-1] in
                         LM_LINEAR_MODULES]
    if family == "qwen2_5_vl":
        assert vision_same_names  # the case that needs anchoring is really there
    model = D.add_lora(base, D.DistillSettings(lora_targets=LM_LINEAR_MODULES, lora_dropout=0.0))
    adapted = sorted(n.removeprefix("base_model.model.").removesuffix(".lora_A") for n, _ in model.named_modules()
                     if n.endswith(".lora_A"))
    assert adapted == want
    model.save_pretrained(tmp_path / "ad")
    check_servable_adapter(tmp_path / "ad")  # vLLM could serve it as LoRA
    # and it loads back onto a fresh base with the same modules adapted (hf engine / merge-adapter path)
    from peft import PeftModel

    again = PeftModel.from_pretrained(AutoModelForImageTextToText.from_pretrained(path), str(tmp_path / "ad"))
    assert sorted(n.removeprefix("base_model.model.").removesuffix(".lora_A") for n, _ in again.named_modules()
                  if n.endswith(".lora_A")) == want
