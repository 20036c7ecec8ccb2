"""Train an M3 head on MOS labels from cached per-token features (the MLLM stays frozen).

The reference recipe, scaled to what a run needs: AdamW (weight decay 1e-5), MSE on the raw
MOS, mini-batches of right-padded sequences (the head is causal and pools with a mask, so
padding cannot leak), a fixed seed for the order, and the best epoch by validation SRCC.
"""

from __future__ import annotations

import copy
import math

import torch

from agiqa.model.head import M3Head, pad_right


def train_head(head: M3Head, feats: list[torch.Tensor], targets: list[float], epochs: int = 10, lr: float = 1e-3,
               batch_size: int = 8, seed: int = 0, val: tuple[list, list] | None = None) -> dict:
    """Train in place; returns {"loss": [...per epoch], "val_srcc": [...], "val_mse": [...], "best_epoch": i}
    (the best epoch by validation SRCC; the MSE of the clamped scores is recorded alongside)."""
    from agiqa.evaluation.metrics import metrics

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-5)
    y = torch.tensor(targets, dtype=torch.float32)
    history: dict = {"loss": [], "val_srcc": [], "val_mse": [], "best_epoch": None}
    best, best_state = -math.inf, None
    for epoch in range(epochs):
        head.train()
        order = torch.randperm(len(feats), generator=gen).tolist()
        total = 0.0
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            hidden, mask = pad_right([feats[i] for i in idx], head.config.context_length)
            loss = torch.nn.functional.mse_loss(head(hidden, mask), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history["loss"].append(total / len(order))
        if val is not None:
            head.eval()
            pred = head.score(val[0])
            srcc = metrics(pred.tolist(), val[1])["srcc"]
            history["val_srcc"].append(srcc)
            history["val_mse"].append(float(((pred - torch.tensor(val[1], dtype=torch.float32)) ** 2).mean()))
            if not math.isnan(srcc) and srcc > best:
                best, best_state, history["best_epoch"] = srcc, copy.deepcopy(head.state_dict()), epoch
    if best_state is not None:
        head.load_state_dict(best_state)
    head.eval()
    head.config.trained = True
    return history
