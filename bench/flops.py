"""The FLOP floor of M3-AGIQA on a model's shapes, and the device's measured matmul peak.

Per image-aspect, dense matmul work only (attention scores, norms and activations left out, so the
floor is a little optimistic, which makes the printed fraction conservative):
- round 1: the language model over the conversation up to the description's end, once per token
  (prefill and decode alike: 2 FLOP per weight per token), plus the LM head per generated token;
- the scoring pass: the language model over the whole conversation again (no LM head);
- the vision tower: 2 FLOP per vision weight per patch, once per image (shared by its aspects);
- the head: negligible (a 512-wide xLSTM).
"""

from __future__ import annotations

import json
import time
from pathlib import Path


def parameter_counts(model_dir: str | Path) -> dict[str, int]:
    """{'language': non-embedding LM weights, 'lm_head': LM head weights, 'vision': vision tower + merger /
    resampler weights}, read from the safetensors headers (nothing is loaded)."""
    from safetensors import safe_open

    counts = {"language": 0, "lm_head": 0, "vision": 0, "embedding": 0}
    for f in sorted(Path(model_dir).glob("*.safetensors")):
        with safe_open(str(f), "pt") as st:
            for k in st.keys():
                n = 1
                for d in st.get_slice(k).get_shape():
                    n *= d
                if "lm_head" in k:
                    counts["lm_head"] += n
                elif "embed_tokens" in k:
                    counts["embedding"] += n
                elif any(t in k for t in ("visual", "vision", "vpm", "resampler", "merger")):
                    counts["vision"] += n
                else:
                    counts["language"] += n
    return counts


def image_aspect_flops(counts: dict[str, int], round1_tokens: float, new_tokens: float, scoring_tokens: float,
                       patches_per_image: float, aspects: int) -> float:
    lm = 2 * counts["language"] * (round1_tokens + scoring_tokens) + 2 * counts["lm_head"] * new_tokens
    return lm + 2 * counts["vision"] * patches_per_image / aspects


def matmul_peak(device: str, dtype_name: str, n: int = 8192, repeats: int = 20) -> float:
    """Measured dense matmul FLOP/s of the device in `dtype` (the floor's denominator)."""
    import torch

    dtype = getattr(torch, dtype_name)
    if device == "cpu":
        n, repeats = 1024, 5
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync()
    return 2 * n**3 * repeats / (time.perf_counter() - t)


def model_family(model_dir: str | Path) -> str:
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    return "minicpmv-2.5" if cfg.get("model_type") == "minicpmv" else "qwen2-vl"
