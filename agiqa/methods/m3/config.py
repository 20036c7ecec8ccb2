"""`method: {name: m3-agiqa, engine: {...}, heads, prompt_set, describe}`: M3-AGIQA's settings."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from agiqa.engines.config import EngineConfig
from agiqa.errors import ConfigError
from agiqa.methods.base import MethodConfig
from agiqa.methods.registry import register_method


@register_method
class M3Config(MethodConfig):
    name: Literal["m3-agiqa"] = "m3-agiqa"
    cli_flags: ClassVar[dict[str, str]] = {
        "engine": "engine.name", "model": "engine.model", "adapters": "engine.adapters",
        "batch_size": "engine.batch_size", "max_new_tokens": "engine.max_new_tokens",
        "repetition_penalty": "engine.repetition_penalty",
        "max_length": "engine.max_length", "device": "engine.device", "heads": "heads",
        "prompt_set": "prompt_set", "describe": "describe", "descriptions_from": "descriptions_from"}
    requires_modules: ClassVar[tuple[str, ...]] = ("torch", "transformers", "peft", "xlstm", "safetensors")
    train_entry: ClassVar[str | None] = "agiqa.training.m3_train_head:run"
    tiny_model_entry: ClassVar[str | None] = "agiqa.demo_models.tiny_entries:m3"
    engine: EngineConfig = Field(..., description="The MLLM with its per-aspect LoRA adapters (hf or vLLM).")
    heads: str | None = Field(
        None, description="Folder with one M3 head per aspect (<dir>/<aspect>/). Default: <engine.model>/heads."
    )
    prompt_set: str = Field("m3agiqa", description="Prompt template set (see `agiqa.model.prompts.PROMPT_SETS`).")
    describe: bool = Field(
        True, description="Round 1 on: the MLLM describes the image first. Off: the assistant turn stays empty "
                          "(the ablation that shows what the description adds; heads must be trained the same way)."
    )

    descriptions_from: str | None = Field(
        None, description="Input column holding each row's round-1 description (e.g. the reference records' "
                          "`response_0`); '{aspect}' in the name picks one column per aspect. Round 1 is skipped: "
                          "the paper's evaluation protocol, deterministic. A row without one is an error.")
    clamp: bool = Field(
        True, description="Clamp scores to [0, 5]. False: the head's raw output, as in the paper's tables; the "
                          "method then declares itself unbounded (ScoreSpec), so readers take ranges from the data.")

    @model_validator(mode="after")
    def _descriptions(self) -> M3Config:
        if self.descriptions_from is not None and not self.describe:
            raise ValueError("descriptions_from and describe: false exclude each other")
        return self

    def description_columns(self, aspects: tuple[str, ...]) -> dict[str, str]:
        """Aspect -> input column of its given description (empty without `descriptions_from`)."""
        if self.descriptions_from is None:
            return {}
        return {a: self.descriptions_from.replace("{aspect}", a) for a in aspects}

    @property
    def heads_dir(self) -> str:
        return self.heads or str(Path(self.engine.model) / "heads")

    def check(self, aspects: tuple[str, ...], on_this_machine: bool = True) -> None:
        import json

        from agiqa.model.prompts import get_prompt_set
        from agiqa.model.weights_files import refuse_pickled

        e = self.engine
        if not (Path(e.model) / "config.json").is_file():
            raise ConfigError(f"method.engine.model: no Hugging Face model at {e.model} (config.json missing)")
        refuse_pickled(e.model, "method.engine.model")
        for a in aspects:
            refuse_pickled(Path(e.adapters_dir) / a, f"adapter {a!r}")
        hidden = _hidden_size(json.loads((Path(e.model) / "config.json").read_text()))
        for a in aspects:
            head = Path(self.heads_dir) / a
            if not (head / "head_config.json").is_file():
                raise ConfigError(f"no M3 head for aspect {a!r} at {head} (head_config.json missing)")
            hc = json.loads((head / "head_config.json").read_text())
            if hc.get("aspect") not in (None, a):
                raise ConfigError(f"the head at {head} was trained for aspect {hc['aspect']!r}, not {a!r} "
                                  f"(its head_config.json says so): put it under {Path(self.heads_dir) / hc['aspect']}")
            if hidden is not None and hc.get("hidden_size") not in (None, hidden):
                raise ConfigError(f"head {a!r} at {head} expects hidden size {hc['hidden_size']} but the model at "
                                  f"{e.model} has {hidden}: it was trained for another base model")
            limit = hc.get("max_length") or e.max_length
            if hc.get("context_length") is not None and hc["context_length"] < limit:
                raise ConfigError(f"head {a!r} has context_length {hc['context_length']} < max_length {limit}")
        if on_this_machine and e.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ConfigError(f"method.engine.device: {e.device!r} requested but this machine has no CUDA GPU")
        if e.adapters is not None and not Path(e.adapters).is_dir():
            raise ConfigError(f"method.engine.adapters: {e.adapters} is not a folder")
        self._check_adapters(aspects)
        try:
            get_prompt_set(self.prompt_set)
        except ValueError as err:
            raise ConfigError(f"method.prompt_set: {err}") from None

    def _check_adapters(self, aspects: tuple[str, ...]) -> None:
        """Each aspect's adapter fits the base model (read from the files' headers, no weights loaded)."""
        from agiqa.model.fit import adapter_misfit

        root = Path(self.engine.adapters_dir)
        for a in aspects:
            d = root / a
            if (d / "adapter_config.json").is_file() and (why := adapter_misfit(d, self.engine.model)):
                raise ConfigError(f"the {a!r} adapter at {d} does not fit the model at {self.engine.model}: {why}")

    def build(self, aspects: tuple[str, ...]):
        from agiqa.methods.m3.method import M3Method

        return M3Method(self, aspects)


def _hidden_size(config: dict) -> int | None:
    """The language model's hidden size from a Hugging Face config.json (top level or text_config)."""
    for c in (config.get("text_config") or {}, config):
        if isinstance(c.get("hidden_size"), int):
            return c["hidden_size"]
    return None
