"""Registers MiniCPM-V 2.5 with vLLM without remote code: the config class and the model architecture.

`register()` runs in the scoring process before the engine starts, and in every vLLM worker process
through the `vllm.general_plugins` entry point (pyproject.toml), so a multi-process engine sees the
same registrations. It imports nothing heavy: vLLM imports `vllm_model` when it builds the model.
"""

from __future__ import annotations

#: The architecture name agiqa's engine asks vLLM for (`hf_overrides`); the release's `MiniCPMV`
#: stays vLLM's own (which would load the checkpoint's remote image processor).
ARCHITECTURE = "AgiqaMiniCPMV25"
#: The prompt text vLLM's MiniCPM-V support expands into an image's placeholder.
IMAGE_PATTERN = "(<image>./</image>)"


def register() -> None:
    from agiqa.engines.minicpmv.hf_config import register_config

    register_config()
    try:
        from vllm import ModelRegistry
    except ImportError:
        return
    if ARCHITECTURE not in ModelRegistry.get_supported_archs():
        ModelRegistry.register_model(ARCHITECTURE, "agiqa.engines.minicpmv.vllm_model:AgiqaMiniCPMV25")
