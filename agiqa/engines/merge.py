"""Fold a PEFT adapter into its base model, as a checkpoint of its own (for adapters vLLM cannot serve)."""

from __future__ import annotations

import shutil
from pathlib import Path


def merge_adapter(model: str, adapter: str, output: str, dtype: str = "auto", copy_heads: str | None = None) -> None:
    """Write `adapter` merged into `model` as a complete checkpoint at `output` (processor and chat template too)."""
    import torch
    from peft import PeftModel

    from agiqa.engines.minicpmv.model import is_minicpmv25

    if is_minicpmv25(model):
        from agiqa.engines.minicpmv.merge import merge_minicpmv_adapter

        merge_minicpmv_adapter(model, adapter, output, dtype)
        if copy_heads:
            shutil.copytree(copy_heads, Path(output) / "heads", dirs_exist_ok=True)
        return
    from transformers import AutoModelForImageTextToText, AutoProcessor

    kw = {} if dtype == "auto" else {"dtype": getattr(torch, dtype)}
    base = AutoModelForImageTextToText.from_pretrained(model, **kw)
    merged = PeftModel.from_pretrained(base, adapter).merge_and_unload()
    merged.save_pretrained(output)
    AutoProcessor.from_pretrained(model).save_pretrained(output)
    for name in ("generation_config.json", "chat_template.jinja", "chat_template.json"):
        src = Path(model) / name
        if src.is_file() and not (Path(output) / name).exists():
            shutil.copy(src, Path(output) / name)
    if copy_heads:
        shutil.copytree(copy_heads, Path(output) / "heads", dirs_exist_ok=True)
