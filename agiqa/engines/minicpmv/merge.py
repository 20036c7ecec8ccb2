"""Merge one of the authors' adapters into MiniCPM-V 2.5, written back in the released layout.

The released adapters fully train the vision tower, resampler and embeddings (`modules_to_save`) and
put LoRA on the language model's attention: merging gives one plain checkpoint per aspect (what an
engine that serves LoRA on the language model only, e.g. vLLM, would need). The folder keeps the
base's config, tokenizer, preprocessor and any remote-code files (copied, never run), and the
parameter names `vpm.*`, `resampler.*`, `llm.*`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: Files of the base folder copied as they are (configs, tokenizer, the release's remote code).
_KEEP = ("*.json", "*.py", "*.txt", "*.model", "*.jinja")


def merge_minicpmv_adapter(model: str, adapter: str, output: str, dtype: str = "auto") -> None:
    import torch
    from peft import PeftModel
    from safetensors.torch import save_file

    from agiqa.engines.minicpmv.model import MiniCPMV25

    dt = torch.float32 if dtype == "auto" else getattr(torch, dtype)
    merged = PeftModel.from_pretrained(MiniCPMV25.from_pretrained(model, dtype=dt), adapter).merge_and_unload()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    for pattern in _KEEP:
        for f in Path(model).glob(pattern):
            if f.name not in ("model.safetensors.index.json", "adapter_config.json"):
                shutil.copy(f, out / f.name)
    state = {k: v.detach().contiguous().cpu() for k, v in merged.state_dict().items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
