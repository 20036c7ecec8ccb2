"""`method: {name: clip-agiqa, model, heads, ...}`: CLIP-AGIQA's settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from agiqa.errors import ConfigError
from agiqa.methods.base import MethodConfig
from agiqa.methods.registry import register_method


@register_method
class ClipAgiqaConfig(MethodConfig):
    name: Literal["clip-agiqa"] = "clip-agiqa"
    cli_flags: ClassVar[dict[str, str]] = {"model": "model", "heads": "heads", "batch_size": "batch_size",
                                           "device": "device"}
    requires_modules: ClassVar[tuple[str, ...]] = ("torch", "transformers", "safetensors")
    train_entry: ClassVar[str | None] = "agiqa.training.clip_train_head:run"
    tiny_model_entry: ClassVar[str | None] = "agiqa.demo_models.tiny_entries:clip"
    model: str = Field(..., description="CLIP folder in the released layout (e.g. clip-vit-base-patch16), or "
                                        "one from `agiqa make-tiny-model --method clip-agiqa`.")
    heads: str | None = Field(None, description="Folder with one CLIP-AGIQA head per aspect (<dir>/<aspect>/). "
                                                "Default: <model>/heads.")
    device: str = Field("auto", description="'auto' (cuda if available, else cpu), 'cpu' or 'cuda[:N]'.")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="The backbone's dtype: 'auto' is float16 on GPU (the paper's), float32 on CPU.")
    batch_size: int = Field(256, ge=1, description="Images per CLIP forward (rows arrive in read batches).")
    cpu_threads: int | None = Field(
        None, ge=1, description="torch threads for CLIP's forwards on CPU; default half of the actor's CPUs "
                                "(`resources.<stage>.num_cpus`, at least 1), "
                                "beside the stage's prepare pool (decode + preprocess, `runner.prepare_workers`: the "
                                "actor's CPUs by default). More threads than free cores made the forwards 4-8x slower "
                                "on 2 busy cores (measured).")
    clamp: bool = Field(
        True, description="Clamp scores to the heads' 0-5 MOS scale, as M3-AGIQA's scores are, so the README's "
                          "0-5 and the rating words hold. False: the regressor's raw output (the paper's code "
                          "evaluates that), which can fall outside 0-5; the method then declares itself unbounded.")
    prompt_cache_size: int = Field(65536, ge=0, description="Distinct prompts whose text features are kept per actor "
                                                            "(computed once per job; least recently used dropped).")

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", v):
            raise ValueError(f"{v!r} is not a device; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
        return v

    @property
    def heads_dir(self) -> str:
        return self.heads or str(Path(self.model) / "heads")

    def check(self, aspects: tuple[str, ...], on_this_machine: bool = True) -> None:
        import json

        from agiqa.model.clip.head import CONFIG_NAME, WEIGHTS_NAME
        from agiqa.model.weights_files import refuse_pickled

        cfg_path = Path(self.model) / "config.json"
        if not cfg_path.is_file():
            raise ConfigError(f"method.model: no CLIP model at {self.model} (config.json missing)")
        refuse_pickled(self.model, "method.model")
        mcfg = json.loads(cfg_path.read_text())
        if mcfg.get("model_type") != "clip":
            raise ConfigError(f"method.model: {self.model} holds a {mcfg.get('model_type')!r} model, not CLIP "
                              f"(model_type 'clip'); M3-AGIQA's MLLM folders go with --method m3-agiqa")
        dims = (mcfg.get("projection_dim"), (mcfg.get("text_config") or {}).get("hidden_size"))
        for a in aspects:
            head = Path(self.heads_dir) / a
            if not (head / CONFIG_NAME).is_file() or not (head / WEIGHTS_NAME).is_file():
                raise ConfigError(f"no CLIP-AGIQA head for aspect {a!r} at {head} ({CONFIG_NAME} and "
                                  f"{WEIGHTS_NAME} expected; train one with `agiqa train-head --method clip-agiqa`)")
            hc = json.loads((head / CONFIG_NAME).read_text())
            if None not in dims and (hc.get("feature_dim"), hc.get("text_width")) != dims:
                raise ConfigError(f"head {a!r} at {head} was trained on a CLIP with feature/text widths "
                                  f"{hc.get('feature_dim')}/{hc.get('text_width')}, but {self.model} has "
                                  f"{dims[0]}/{dims[1]}: it belongs to another backbone")
        if on_this_machine and self.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ConfigError(f"method.device: {self.device!r} requested but this machine has no CUDA GPU")

    def build(self, aspects: tuple[str, ...]):
        from agiqa.methods.clip.method import ClipAgiqaMethod

        return ClipAgiqaMethod(self, aspects)
