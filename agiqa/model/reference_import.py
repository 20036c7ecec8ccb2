"""Import a head trained by the reference code (strawhatboy/M3-AGIQA, PyTorch Lightning).

The reference's `.ckpt` keeps only the head (`on_save_checkpoint` drops `model.model.*`):
`model.W.{weight,bias}` (Linear(vocab→512) over the LM-head logits), the xLSTM stack under
`model.xlstm_pooler.xlstm_stack.*`, and the MLP `model.fc.{0,2}.*`. We fold `W` with the base
model's LM head at import (see `fold.py`), so the imported head never needs vocabulary logits.

Nothing is unpickled: `.ckpt` files load with `torch.load(weights_only=True)`, which refuses
arbitrary objects; a checkpoint that needs more can be converted to safetensors first.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from agiqa.model.fold import fold_projection
from agiqa.model.head import M3Head
from agiqa.model.head_config import M3HeadConfig

PREFIX_W = "model.W."
PREFIX_XLSTM = "model.xlstm_pooler.xlstm_stack."
PREFIX_FC = "model.fc."


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(
            f"{path}: cannot be loaded safely (weights_only=True refused it: {e}). Convert its state_dict to "
            "safetensors on a trusted machine and import that file instead."
        ) from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a Lightning checkpoint or state dict")
    return state


def import_reference_head(
    state: dict[str, torch.Tensor],
    lm_weight: torch.Tensor,
    lm_bias: torch.Tensor | None = None,
    context_length: int = 512,
    pooling: str = "mean",
    slstm_backend: str = "vanilla",
    aspect: str | None = None,
    notes: dict | None = None,
) -> M3Head:
    """Build an `M3Head` from a reference state dict, folding `W` with the given LM head."""
    for needed in (PREFIX_W + "weight", PREFIX_FC + "0.weight", PREFIX_FC + "2.weight"):
        if needed not in state:
            raise KeyError(f"reference checkpoint lacks {needed!r}: is it an M3-AGIQA xLSTM head?")
    w_weight, w_bias = state[PREFIX_W + "weight"], state.get(PREFIX_W + "bias")
    xl = {k[len(PREFIX_XLSTM):]: v for k, v in state.items() if k.startswith(PREFIX_XLSTM)}
    blocks = sorted({int(m.group(1)) for k in xl if (m := re.match(r"blocks\.(\d+)\.", k))})
    slstm_at = sorted({int(m.group(1)) for k in xl if (m := re.match(r"blocks\.(\d+)\.xlstm\.slstm_cell", k))})
    cfg = M3HeadConfig(
        hidden_size=int(lm_weight.shape[1]),
        embedding_dim=int(w_weight.shape[0]),
        num_blocks=len(blocks),
        slstm_at=slstm_at,
        context_length=context_length,
        pooling=pooling,  # type: ignore[arg-type]
        slstm_backend=slstm_backend,  # type: ignore[arg-type]
        mlp_hidden=int(state[PREFIX_FC + "0.weight"].shape[0]),
        aspect=aspect,
        trained=True,
        notes={"imported_from": "M3-AGIQA Lightning checkpoint", **(notes or {})},
    )
    head = M3Head(cfg)
    weight, bias = fold_projection(w_weight.float(), None if w_bias is None else w_bias.float(), lm_weight, lm_bias)
    new_state = {"proj.weight": weight, "proj.bias": bias}
    new_state.update({"xlstm." + k: v.float() for k, v in xl.items()})
    new_state.update({"fc." + k[len(PREFIX_FC):]: v.float() for k, v in state.items() if k.startswith(PREFIX_FC)})
    missing, unexpected = head.load_state_dict(new_state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"reference head does not match the xLSTM layout: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    return head.eval()
