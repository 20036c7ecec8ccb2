"""Per-token features for head training, computed once and cached.

The frozen MLLM pass is the expensive part of training a head and does not change between
epochs, so we run it once per (model, adapter, aspect, prompt set, data) and cache the final
hidden states ([L_i, hidden] per row). We cache hidden states rather than the folded 512-d
features because the head's projection is trainable: caching after it would freeze it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch


def cache_key(model: str, adapter: str | None, aspect: str, prompt_set: str, max_length: int,
              row_ids: list[str], descriptions: list[str], first_turns: list[str] | None = None) -> str:
    h = hashlib.sha256(json.dumps([model, adapter, aspect, prompt_set, max_length, row_ids, descriptions,
                                   first_turns]).encode())
    return h.hexdigest()[:20]


def compute_features(engine, conversations: list, descriptions: list[str], batch_size: int = 8) -> list[torch.Tensor]:
    """Hidden states of [user: image + round 1, assistant: description, user: round 2] per conversation
    (`agiqa.methods.m3.two_round.Conversation`, fitted as scoring fits it)."""
    from agiqa.engines.base import ScoringRequest

    out: list[torch.Tensor] = []
    for s in range(0, len(conversations), batch_size):
        reqs = [ScoringRequest(c.aspect, c.image, c.first_turn, d, c.second_turn)
                for c, d in zip(conversations[s:s + batch_size], descriptions[s:s + batch_size], strict=True)]
        out += engine.hidden_states(reqs)
    return out


def save_features(path: Path, feats: list[torch.Tensor]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    lengths = torch.tensor([f.shape[0] for f in feats], dtype=torch.long)
    save_file({"hidden": torch.cat(feats).contiguous(), "lengths": lengths}, str(path))


def load_features(path: Path) -> list[torch.Tensor]:
    from safetensors.torch import load_file

    d = load_file(str(path))
    return list(torch.split(d["hidden"], d["lengths"].tolist()))


def cached_features(cache_dir: str | None, key: str, compute) -> tuple[list[torch.Tensor], bool]:
    """(features, hit): load `key` from the cache, or compute and store it."""
    if cache_dir:
        path = Path(cache_dir) / f"{key}.safetensors"
        if path.is_file():
            return load_features(path), True
    feats = compute()
    if cache_dir:
        save_features(Path(cache_dir) / f"{key}.safetensors", feats)
    return feats, False
