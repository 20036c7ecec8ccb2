"""The released `config.json` as a transformers config class, registered under `model_type: minicpmv`.

The release names `configuration_minicpm.MiniCPMVConfig` (remote code) in its `auto_map`; vLLM reads a
model's config through `AutoConfig`. Registering this class first makes `AutoConfig` take the local
class (transformers prefers local code when `trust_remote_code` is off), so vLLM loads the released
folder without executing anything from it. Fields: Llama's at the top level, plus the vision tower's
(`vision_config`, an Idefics2/SigLIP config), `query_num`, `version`, `drop_vision_last_layer` and the
slicing settings, as the release has them.
"""

from __future__ import annotations

from transformers import AutoConfig, Idefics2VisionConfig, LlamaConfig


class MiniCPMV25Config(LlamaConfig):
    model_type = "minicpmv"

    def __init__(self, vision_config=None, query_num: int = 96, version: float = 2.5,
                 drop_vision_last_layer: bool = False, slice_config: dict | None = None, **kwargs):
        vc = vision_config if vision_config is not None else {}
        if isinstance(vc, dict):
            vc = Idefics2VisionConfig(**{k: v for k, v in vc.items() if k != "model_type"})
        self.vision_config = vc
        self.query_num = query_num
        self.version = version
        self.drop_vision_last_layer = drop_vision_last_layer
        self.slice_config = slice_config
        super().__init__(**kwargs)


def register_config() -> None:
    """Make `AutoConfig` resolve `model_type: minicpmv` to `MiniCPMV25Config` (idempotent)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if "minicpmv" not in CONFIG_MAPPING:
        AutoConfig.register("minicpmv", MiniCPMV25Config)
