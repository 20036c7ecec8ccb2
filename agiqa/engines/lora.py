"""Which modules the describer's LoRA adapters may touch, shared by training, the engines and checks.

The language model's linear layers are named q/k/v/o_proj (attention) and gate/up/down_proj (MLP)
in every family we support, but the names alone do not say *where*: Qwen2-VL's vision tower uses
qkv/proj/fc1/fc2, while Qwen2.5-VL's vision MLP is gate/up/down_proj too. A bare name list would
put LoRA on the vision tower, which vLLM cannot serve; so training anchors the names to the language
model's module path (`lora_target_pattern`), found from the model itself (`language_model_prefix`).
vLLM serves LoRA only on the language model's linear layers; an adapter that targets anything else
must be merged (`agiqa merge-adapter`) before vLLM can use it.
"""

from __future__ import annotations

import re

#: Default LoRA targets: the language model's attention projections.
LORA_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
#: Every linear layer of the language model: what `finetune --lora-targets` accepts and vLLM serves.
LM_LINEAR_MODULES: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
#: Names the language model goes by in the families we know, when the model has no `get_decoder`.
_LM_NAMES = ("language_model", "llm")


def language_model_prefix(model) -> str:
    """The module path of `model`'s language model (e.g. `model.language_model` in Qwen2/2.5-VL)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    named = list(model.named_modules())
    if decoder is not None and decoder is not model:
        for name, module in named:
            if module is decoder and name:
                return name
    for name, _ in named:
        if name.rsplit(".", 1)[-1] in _LM_NAMES:
            return name
    raise ValueError(f"cannot find the language model inside {type(model).__name__}")


def lora_target_pattern(prefix: str, targets: tuple[str, ...] | list[str]) -> str:
    """A PEFT `target_modules` regex (matched against whole module names) for `targets` under `prefix` only."""
    names = "|".join(re.escape(t) for t in targets)
    return rf"{re.escape(prefix)}\..*\.(?:{names})"
