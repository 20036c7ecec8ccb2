"""The M3 heads' folded `hidden->D` maps, applied where the engine's states are, before they leave it.

An M3 head's first layer (`proj`) is the reference's `W(lm_head(h))` folded into one affine map
(`model/fold.py`). Applied on the engine's device, the scoring pass hands the host [L, D] (D = 512
for the authors' heads) instead of [L, hidden] (4,096 for Llama-3-8B): 8x fewer bytes, and the
head no longer multiplies on the CPU. Engines without the maps (parity checks) return full width.
"""

from __future__ import annotations

from pathlib import Path

import torch


class Projections:
    def __init__(self, maps: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None):
        self.maps = maps or {}

    @classmethod
    def load(cls, heads: dict[str, str | Path], device) -> Projections:
        """aspect -> an M3 head's safetensors file; its `proj.weight` / `proj.bias`, float32 on `device`."""
        from safetensors.torch import load_file

        maps = {}
        for aspect, path in heads.items():
            sd = load_file(str(path))
            maps[aspect] = (sd["proj.weight"].float().to(device), sd["proj.bias"].float().to(device))
        return cls(maps)

    def apply(self, aspect: str, states: torch.Tensor) -> torch.Tensor:
        """[L, hidden] on the device -> [L, D] float32 on the CPU (or [L, hidden] when `aspect` has no map)."""
        x = states.float()
        if aspect in self.maps:
            x = torch.nn.functional.linear(x, *self.maps[aspect])
        return x.cpu()
