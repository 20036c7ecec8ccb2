"""A new, untrained M3 head sized from a base model's own config: training from any base.

The reference's head starts with a `Linear(vocab→D)` (xavier init) applied to the LM logits; we
keep that map folded into the LM head (`fold.py`). A fresh head therefore draws the reference's
`W` over the base's vocabulary and folds it with the base's LM head, so it starts from the
distribution the reference's does, whatever the base (hidden size and vocabulary read from the
checkpoint, never assumed).
"""

from __future__ import annotations

import json
from pathlib import Path

from agiqa.model.head import M3Head
from agiqa.model.head_config import M3HeadConfig


def base_hidden_size(model_dir: str | Path) -> int:
    """The language model's hidden size from the base's config.json (top level or text_config)."""
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    for c in (cfg.get("text_config") or {}, cfg.get("llm_config") or {}, cfg):
        if isinstance(c.get("hidden_size"), int):
            return c["hidden_size"]
    raise ValueError(f"{model_dir}/config.json names no hidden_size")


def fresh_head(model_dir: str | Path, aspect: str, embedding_dim: int = 512, context_length: int = 512,
               seed: int = 0) -> M3Head:
    """An untrained head for `model_dir`'s base: config from the base, projection = fold(xavier W, LM head)."""
    import torch

    from agiqa.model.checkpoint import load_lm_head

    lm_weight, lm_bias = load_lm_head(model_dir)
    hidden = base_hidden_size(model_dir)
    if lm_weight.shape[1] != hidden:
        raise ValueError(f"{model_dir}: LM head is {tuple(lm_weight.shape)} but hidden_size is {hidden}")
    torch.manual_seed(seed)
    cfg = M3HeadConfig(hidden_size=hidden, embedding_dim=embedding_dim, context_length=context_length,
                       aspect=aspect, trained=False,
                       notes={"init": "fresh: reference xavier W(vocab→D) folded with the base's LM head",
                              "vocab": int(lm_weight.shape[0]), "base": str(model_dir)})
    head = M3Head(cfg)
    w = torch.empty(embedding_dim, lm_weight.shape[0])
    torch.nn.init.xavier_uniform_(w)  # the reference's W (models/utils.xavier_init), bias zero
    with torch.no_grad():
        head.proj.weight.copy_(w @ lm_weight)  # float32 is enough for an initial draw
        head.proj.bias.copy_(torch.zeros(embedding_dim) if lm_bias is None else w @ lm_bias)
    return head
