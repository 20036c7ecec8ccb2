"""Does an adapter fit its base model? Checked from the files' headers, before any weights load.

A LoRA adapter trained on another base (MiniCPM-V's on Qwen2-VL, a 7B adapter on a 2B model)
otherwise ends in a long PEFT traceback after the model has loaded, or in silently wrong scores
when the shapes happen to agree. The check reads only safetensors headers (8 bytes of length,
then JSON naming every tensor and its shape; no torch, no weights), so it costs milliseconds:

- every module the adapter's weights touch exists in the base (matched on the last three parts
  of its name, e.g. `3.self_attn.q_proj`, since a checkpoint's prefixes differ from the loaded
  model's: `model.layers` on disk, `model.language_model.layers` in transformers 5);
- `lora_A` takes the base weight's input width and `lora_B` gives its output width.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

ADAPTER_WEIGHTS = "adapter_model.safetensors"


def tensor_shapes(path: str | Path) -> dict[str, list[int]]:
    """Name -> shape of every tensor in a safetensors file, from its header alone."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return {k: v["shape"] for k, v in header.items() if k != "__metadata__"}


def base_weight_shapes(model_dir: str | Path) -> dict[str, list[int]] | None:
    """Every `*.safetensors` tensor shape of a Hugging Face model folder (None: no safetensors there)."""
    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        return None
    shapes: dict[str, list[int]] = {}
    for f in files:
        shapes.update(tensor_shapes(f))
    return shapes


def _tail(module: str, parts: int) -> tuple[str, ...]:
    return tuple(module.split(".")[-parts:])


def _index(base: dict[str, list[int]]) -> tuple[dict, set[str]]:
    """Base weights' shapes by the last three and the last two parts of their module's name; leaf names."""
    by_tail: dict[tuple[str, ...], list[list[int]]] = {}
    leaves = set()
    for name, shape in base.items():
        if name.endswith(".weight"):
            module = name[: -len(".weight")]
            for k in (3, 2):
                by_tail.setdefault(_tail(module, k), []).append(shape)
            leaves.add(module.rsplit(".", 1)[-1])
    return by_tail, leaves


def _base_shapes(by_tail: dict, module: str) -> list[list[int]] | None:
    return by_tail.get(_tail(module, 3)) or by_tail.get(_tail(module, 2))


def adapter_misfit(adapter_dir: str | Path, model_dir: str | Path) -> str | None:
    """Why the adapter in `adapter_dir` cannot apply to the model in `model_dir`, or None when it fits
    (or when either has no safetensors to read: the loader then says what is wrong). Checked: each
    LoRA pair's module exists with the widths it was trained on; each fully saved module
    (`modules_to_save`: embeddings, LM head) has the base's shape."""
    weights = Path(adapter_dir) / ADAPTER_WEIGHTS
    base = base_weight_shapes(model_dir)
    if not weights.is_file() or base is None:
        return None
    by_tail, leaves = _index(base)
    recorded = _recorded_base(adapter_dir)
    for name, shape in sorted(tensor_shapes(weights).items()):
        kind = next((k for k in ("lora_A", "lora_B") if f".{k}." in name), None)
        if kind is None:  # a module saved whole (modules_to_save): same shape as the base's
            if not name.endswith(".weight"):
                continue
            module = name[: -len(".weight")]
            found = _base_shapes(by_tail, module)
            if found and list(shape) not in [list(s) for s in found]:
                return (f"its saved {'.'.join(_tail(module, 2))} has shape {list(shape)}, the base model's "
                        f"{list(found[0])}: it was trained on another base model{recorded}")
            continue
        module = name.split(f".{kind}.")[0]
        found = _base_shapes(by_tail, module)
        if not found:
            leaf = module.rsplit(".", 1)[-1]
            what = f"target module {leaf!r}" if leaf not in leaves else f"module {'.'.join(_tail(module, 3))!r}"
            return f"its {what} does not exist in the base model{recorded}"
        width = shape[1] if kind == "lora_A" else shape[0]
        want = [s[1] if kind == "lora_A" else s[0] for s in found if len(s) == 2]
        if want and width not in want:
            side = "input" if kind == "lora_A" else "output"
            return (f"its {'.'.join(_tail(module, 3))} has {side} width {width}, the base model's {want[0]}: "
                    f"it was trained on another base model{recorded}")
    return None


def _recorded_base(adapter_dir: str | Path) -> str:
    """' (it records base model NAME)' from the adapter's config, for the message."""
    try:
        name = json.loads((Path(adapter_dir) / "adapter_config.json").read_text()).get("base_model_name_or_path")
    except (OSError, ValueError):
        name = None
    return f" (it records base model {name!r})" if name else ""
