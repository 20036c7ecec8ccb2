"""`method: {name: m3-agiqa, engine: {...}, heads, prompt_set, describe}`: M3-AGIQA's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from agiqa.engines.config import EngineConfig
from agiqa.errors import ConfigError
from agiqa.methods.base import MethodConfig
from agiqa.methods.registry import register_method


@register_method
class M3Config(MethodConfig):
    name: Literal["m3-agiqa"] = "m3-agiqa"
    engine: EngineConfig = Field(..., description="The MLLM with its per-aspect LoRA adapters (hf or vLLM).")
    heads: str | None = Field(
        None, description="Folder with one M3 head per aspect (<dir>/<aspect>/). Default: <engine.model>/heads."
    )
    prompt_set: str = Field("m3agiqa", description="Prompt template set (see `agiqa.model.prompts.PROMPT_SETS`).")
    describe: bool = Field(
        True, description="Round 1 on: the MLLM describes the image first. Off: the assistant turn stays empty "
                          "(the ablation that shows what the description adds; heads must be trained the same way)."
    )

    @property
    def heads_dir(self) -> str:
        return self.heads or str(Path(self.engine.model) / "heads")

    def check(self, aspects: tuple[str, ...]) -> None:
        from agiqa.model.prompts import get_prompt_set

        e = self.engine
        if not (Path(e.model) / "config.json").is_file():
            raise ConfigError(f"method.engine.model: no Hugging Face model at {e.model} (config.json missing)")
        for a in aspects:
            head = Path(self.heads_dir) / a
            if not (head / "head_config.json").is_file():
                raise ConfigError(f"no M3 head for aspect {a!r} at {head} (head_config.json missing)")
        if e.adapters is not None and not Path(e.adapters).is_dir():
            raise ConfigError(f"method.engine.adapters: {e.adapters} is not a folder")
        try:
            get_prompt_set(self.prompt_set)
        except ValueError as err:
            raise ConfigError(f"method.prompt_set: {err}") from None

    def build(self, aspects: tuple[str, ...]):
        from agiqa.methods.m3.method import M3Method

        return M3Method(self, aspects)
