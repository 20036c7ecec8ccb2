"""Fold the reference head's `Linear(vocab→D)` into the LM head: one `hidden→D` map.

The reference applies `W` to the vocabulary logits at every position: `W(lm_head(h))`. Both maps
are affine, so `W(lm_head(h)) = (W_w @ L_w) h + (W_w @ L_b + W_b)`. For Llama-3-8B that is a
512×4096 matrix instead of 512×128256 per position: ~31× fewer FLOPs, and no [L, vocab] logits
tensor per image. The fold is done once, in float64, so the folded path matches the explicit one
to float32 rounding.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def fold_projection(
    w_weight: torch.Tensor,
    w_bias: torch.Tensor | None,
    lm_weight: torch.Tensor,
    lm_bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (weight[D, hidden], bias[D]) of the folded map, in float32.

    `w_weight` is [D, vocab] (the reference's `W`), `lm_weight` is [vocab, hidden].
    """
    if w_weight.shape[1] != lm_weight.shape[0]:
        raise ValueError(
            f"head W expects vocab {w_weight.shape[1]} but the LM head has {lm_weight.shape[0]} rows; "
            "was the head trained for another base model?"
        )
    w64 = w_weight.double()
    weight = w64 @ lm_weight.double()
    bias = torch.zeros(w_weight.shape[0], dtype=torch.float64) if w_bias is None else w_bias.double().clone()
    if lm_bias is not None:
        bias += w64 @ lm_bias.double()
    return weight.float(), bias.float()


def unfolded_projection(
    hidden: torch.Tensor,
    w_weight: torch.Tensor,
    w_bias: torch.Tensor | None,
    lm_weight: torch.Tensor,
    lm_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """The reference's path, materialising logits: `W(lm_head(h))`. For tests and benchmarks only."""
    logits = torch.nn.functional.linear(hidden, lm_weight, lm_bias)
    return torch.nn.functional.linear(logits, w_weight, w_bias)
