"""Train CLIP-AGIQA heads: the prompt learner and the regressor, over a frozen CLIP.

The backbone never changes, so each image's feature (and each prompt's, for heads that read the
prompt) is computed once and cached; epochs then cost the six category texts through the text
tower (the context vectors learn through it) and the regressor. Caching means the paper's random
crops and flips are not applied: every epoch sees the test transform (a documented deviation).

The paper's recipe is the default (METHODS.md §3): MSE on the raw MOS, SGD (lr 0.002, momentum
0.9, weight decay 5e-4) for the prompt learner and the regressor, a cosine schedule after one
warm-up epoch at a constant 1e-5, batch 32, 100 epochs, the best epoch by validation SRCC.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class ClipTrainSettings:
    epochs: int = 100
    lr: float = 0.002
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: int = 1
    warmup_lr: float = 1e-5
    batch_size: int = 32
    seed: int = 0


def cached_image_features(backbone, images: list, batch_size: int = 64) -> torch.Tensor:
    """L2-normalised image features [N, D] of decoded RGB images (preprocessed like scoring)."""
    out = []
    for s in range(0, len(images), batch_size):
        out.append(backbone.image_features(np.stack([backbone.preprocess(im) for im in images[s:s + batch_size]])))
    return torch.cat(out)


def cached_prompt_features(backbone, prompts: list[str], batch_size: int = 64) -> torch.Tensor:
    return torch.cat([backbone.prompt_features(prompts[s:s + batch_size]) for s in range(0, len(prompts), batch_size)])


def lr_at(epoch: int, s: ClipTrainSettings) -> float:
    """Dassl's schedule: constant warm-up lr, then cosine from `lr` over the remaining epochs."""
    if epoch < s.warmup_epochs:
        return s.warmup_lr
    span = max(1, s.epochs - s.warmup_epochs)
    return 0.5 * s.lr * (1 + math.cos(math.pi * (epoch - s.warmup_epochs) / span))


def train_clip_head(head, backbone, image_feats: torch.Tensor, targets: list[float],
                    prompt_feats: torch.Tensor | None = None, settings: ClipTrainSettings | None = None,
                    val: tuple | None = None) -> dict:
    """Train `head` in place on cached features; keeps the best epoch by validation SRCC (or the last
    without a validation split). `val`: (image_feats, targets, prompt_feats or None).
    Returns {"loss": [...], "val_srcc": [...], "best_epoch": i}."""
    from scipy.stats import spearmanr

    s = settings or ClipTrainSettings()
    torch.manual_seed(s.seed)
    gen = torch.Generator().manual_seed(s.seed)
    params = [p for p in head.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay)
    y = torch.tensor(targets, dtype=torch.float32)
    history: dict = {"loss": [], "val_srcc": [], "best_epoch": None}
    best, best_state = -math.inf, None
    for epoch in range(s.epochs):
        for g in opt.param_groups:
            g["lr"] = lr_at(epoch, s)
        head.train()
        order = torch.randperm(len(y), generator=gen)
        total = 0.0
        for k in range(0, len(order), s.batch_size):
            idx = order[k:k + s.batch_size]
            text = head.text_features(backbone)
            pred = head(image_feats[idx], text, None if prompt_feats is None else prompt_feats[idx])
            loss = torch.nn.functional.mse_loss(pred, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history["loss"].append(total / len(y))
        if val is not None and len(val[1]) >= 3:
            srcc = float(spearmanr(predict(head, backbone, val[0], val[2]), list(val[1])).statistic)
            history["val_srcc"].append(srcc)
            if srcc == srcc and srcc > best:
                best, best_state, history["best_epoch"] = srcc, copy.deepcopy(head.state_dict()), epoch
    if best_state is not None:
        head.load_state_dict(best_state)
    else:
        history["best_epoch"] = s.epochs - 1
    head.eval()
    return history


@torch.no_grad()
def predict(head, backbone, image_feats: torch.Tensor, prompt_feats: torch.Tensor | None = None) -> list[float]:
    head.eval()
    return head(image_feats, head.text_features(backbone), prompt_feats).tolist()
