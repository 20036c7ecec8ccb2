"""Import a head trained by the reference code (strawhatboy/M3-AGIQA, PyTorch Lightning).

The reference's `.ckpt` keeps only the head (`on_save_checkpoint` drops `model.model.*`):
`model.W.{weight,bias}` (Linear(vocab→512) over the LM-head logits), the xLSTM stack under
`model.xlstm_pooler.xlstm_stack.*`, and the MLP `model.fc.{0,2}.*`. We fold `W` with the base
model's LM head at import (see `fold.py`), so the imported head never needs vocabulary logits.

The reference trained its sLSTM with xLSTM's **CUDA backend**, which stores the cell's recurrent kernel
and bias in another internal layout than the vanilla backend agiqa runs (kernel [NH, DH, 4*DH] vs
[NH, 4*DH, DH]; bias ordered (NH, G, DH) vs (G, NH, DH)). A reshape would load without error and
scramble the gates, so both tensors go through xLSTM's own backend-independent ("external") layout:
the CUDA cell's int->ext, then the vanilla cell's ext->int (`convert_slstm_cells`).

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


KERNEL, BIAS = "._recurrent_kernel_", "._bias_"


def convert_slstm_cells(state: dict[str, torch.Tensor], head: M3Head) -> dict[str, torch.Tensor]:
    """`state` (agiqa head names) with every sLSTM cell's kernel and bias in the layout of `head`'s
    (vanilla) cells. The source layout is read off the kernel's shape: the CUDA backend's
    [NH, DH, G*DH] is converted through xLSTM's external layout, the vanilla [NH, G*DH, DH] is kept;
    any other shape is refused."""
    import dataclasses

    from xlstm.blocks.slstm.cell import sLSTMCell_cuda

    out = dict(state)
    cells = {name: m for name, m in head.named_modules() if name.endswith("slstm_cell")}
    for name, cell in cells.items():
        k_key, b_key = name + KERNEL, name + BIAS
        if k_key not in state:
            continue
        c = cell.config
        nh, dh, g = c.num_heads, c.head_dim, c.num_gates
        kernel, bias = state[k_key], state[b_key]
        if tuple(kernel.shape) == (nh, dh, g * dh) and dh != g * dh:
            cuda = sLSTMCell_cuda(dataclasses.replace(c, backend="cuda"), skip_backend_init=True)
            out[k_key] = cell._recurrent_kernel_ext2int(cuda._recurrent_kernel_int2ext(kernel.float())).contiguous()
            out[b_key] = cell._bias_ext2int(cuda._bias_int2ext(bias.float())).contiguous()
        elif tuple(kernel.shape) != (nh, g * dh, dh):
            raise ValueError(f"sLSTM cell {name}: recurrent kernel of shape {list(kernel.shape)} is neither the CUDA "
                             f"backend's [{nh}, {dh}, {g * dh}] nor the vanilla backend's [{nh}, {g * dh}, {dh}]")
    return out


#: The released predictors' scoring input (strawhat/m3-agiqa-predictor-checkpoints; METHODS.md 2.5):
#: folder name in the path -> (model_max_length, max_slice_nums).
RELEASED_INPUTS = {"aigciqa-30k": (768, 4), "aigiqa-20k": (768, 4), "agiqa-3k": (512, 9), "aigciqa2023": (512, 9)}


def scoring_inputs(path: str | Path, hparams: dict, max_length: int | None,
                   max_slices: int | None) -> tuple[int, int]:
    """(max_length, slice count) the checkpoint was trained with: the flags, else the checkpoint's
    hyper-parameters, else the released file's folder; refused when none says."""
    if max_length is None:
        max_length = hparams.get("model_max_length")
    if max_slices is None:
        max_slices = hparams.get("max_slice_nums")
    known = next((v for k, v in RELEASED_INPUTS.items() if k in str(path).lower()), None)
    if known is not None:
        max_length = known[0] if max_length is None else max_length
        max_slices = known[1] if max_slices is None else max_slices
    if max_length is None or max_slices is None:
        raise ValueError(f"{path}: cannot tell the max_length / slice count it was trained with; pass "
                         "--max-length and --max-slices (the released predictors: 768 / 4 for AIGIQA-20K quality, "
                         "512 / 9 for the others)")
    return int(max_length), int(max_slices)


def read_hparams(path: str | Path) -> dict:
    """The Lightning checkpoint's plain hyper-parameters, if it stored any (weights_only load)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return {}
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception:
        return {}
    hp = obj.get("hyper_parameters") if isinstance(obj, dict) else None
    return {k: v for k, v in hp.items() if isinstance(v, int | str | float)} if isinstance(hp, dict) else {}


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        from agiqa.model.weights_files import ADVICE

        raise ValueError(f"{path}: holds more than tensors ({_unpickler_reason(e)}), so it is not loaded; "
                         f"{ADVICE.replace('save_pretrained(DIR)', 'safetensors.torch.save_file(state_dict)')} "
                         "and import that file") from None
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
    max_length: int | None = None,
    max_slices: int | None = None,
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
        max_length=max_length,
        max_slice_nums=max_slices,
        trained=True,
        notes={"imported_from": "M3-AGIQA Lightning checkpoint", **(notes or {})},
    )
    head = M3Head(cfg)
    weight, bias = fold_projection(w_weight.float(), None if w_bias is None else w_bias.float(), lm_weight, lm_bias)
    new_state = {"proj.weight": weight, "proj.bias": bias}
    new_state.update({"xlstm." + k: v.float() for k, v in xl.items()})
    new_state.update({"fc." + k[len(PREFIX_FC):]: v.float() for k, v in state.items() if k.startswith(PREFIX_FC)})
    new_state = convert_slstm_cells(new_state, head)
    missing, unexpected = head.load_state_dict(new_state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"reference head does not match the xLSTM layout: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    return head.eval()


def _unpickler_reason(e: Exception) -> str:
    """What the restricted unpickler refused, without PyTorch's advice around it ("set weights_only=False":
    the one thing not to do with a file you did not make)."""
    for line in str(e).splitlines():
        if "Unsupported global" in line or "WeightsUnpickler error" in line:
            return line.split("error:", 1)[-1].strip().rstrip(".")
    return type(e).__name__
