"""Read single tensors out of a Hugging Face checkpoint folder without building the model.

Folding a head needs only the LM head matrix; loading an 8B model through transformers for it
would cost minutes and tens of GB. safetensors lets us open the one shard that holds it.
"""

from __future__ import annotations

import json
from pathlib import Path


def _tensor_files(model_dir: Path) -> dict[str, Path]:
    """Map tensor name -> safetensors file, from the index when sharded."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        return {k: model_dir / v for k, v in weight_map.items()}
    single = model_dir / "model.safetensors"
    if not single.is_file():
        raise FileNotFoundError(f"{model_dir}: no model.safetensors(.index.json); only safetensors checkpoints load")
    from safetensors import safe_open

    with safe_open(str(single), "pt") as f:
        return {k: single for k in f.keys()}


def load_lm_head(model_dir: str | Path):
    """(weight [vocab, hidden], bias or None) of the model's LM head, float32, on CPU.

    Falls back to the input embeddings when the checkpoint ties them (no separate lm_head).
    """
    from safetensors import safe_open

    model_dir = Path(model_dir)
    files = _tensor_files(model_dir)
    names = sorted(files)
    weight = next((n for n in names if n.endswith("lm_head.weight")), None)
    if weight is None:
        weight = next((n for n in names if n.endswith("embed_tokens.weight")), None)
        if weight is None:
            raise KeyError(f"{model_dir}: no lm_head.weight nor embed_tokens.weight in the checkpoint")
    bias = next((n for n in names if n.endswith("lm_head.bias")), None)
    with safe_open(str(files[weight]), "pt") as f:
        w = f.get_tensor(weight).float()
    b = None
    if bias is not None:
        with safe_open(str(files[bias]), "pt") as f:
            b = f.get_tensor(bias).float()
    return w, b
