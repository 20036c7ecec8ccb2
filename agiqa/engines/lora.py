"""Which modules the describer's LoRA adapters may touch, shared by training, the engines and checks.

Qwen2-VL's language model names its linear layers q/k/v/o_proj (attention) and gate/up/down_proj
(MLP); the vision tower's are qkv/proj/fc1/fc2, so these names never reach it. vLLM serves LoRA
only on the language model's linear layers, so an adapter that targets anything else must be
merged (`agiqa merge-adapter`) before vLLM can use it.
"""

from __future__ import annotations

#: Default LoRA targets: the language model's attention projections.
LORA_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
#: Every linear layer of the language model: what `finetune --lora-targets` accepts and vLLM serves.
LM_LINEAR_MODULES: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
