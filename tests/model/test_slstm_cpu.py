"""The faster sLSTM loop equals the xLSTM library's vanilla cell: forward and gradients to float64 rounding,
and an M3 head scores and trains the same with either (same weights)."""

import copy

import pytest
import torch
from xlstm.blocks.slstm.src.vanilla import slstm_forward, slstm_pointwise_function_registry

from agiqa.model.slstm_cpu import slstm_states, use_fast_recurrence


@pytest.mark.parametrize("start", ["zero", "random"])
def test_states_and_gradients_equal_the_library_loop(start):
    torch.manual_seed(0)
    steps, batch, heads, hd = 40, 3, 4, 8
    h = heads * hd
    x = torch.randn(steps, batch, 4 * h, dtype=torch.float64, requires_grad=True)
    R = (0.3 * torch.randn(heads, 4 * hd, hd, dtype=torch.float64)).requires_grad_()
    b = torch.randn(4 * h, dtype=torch.float64, requires_grad=True)
    s0 = torch.zeros(4, batch, h, dtype=torch.float64)
    if start == "random":  # n > 0: the stabiliser takes the maximum from the first step on
        s0 = torch.stack([torch.randn(batch, h), torch.randn(batch, h), torch.rand(batch, h) + 0.5,
                          torch.randn(batch, h)]).double()
    s0.requires_grad_()
    weights = torch.randn(4, steps + 1, batch, h, dtype=torch.float64)  # a loss touching every state
    grads = []
    outs = []
    for fn in (lambda: slstm_forward(x, s0, R, b, slstm_pointwise_function_registry["slstm"])[0],
               lambda: slstm_states(x, s0, R, b)):
        out = fn()
        (out * weights).sum().backward()
        outs.append(out.detach())
        grads.append([t.grad.clone() for t in (x, s0, R, b)])
        for t in (x, s0, R, b):
            t.grad = None
    # to rounding, not bitwise: the same maths, but matmul kernels differ by CPU (1 ulp seen on a 2-core host)
    torch.testing.assert_close(outs[1], outs[0], rtol=0, atol=1e-12)
    for ref, got in zip(*grads, strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)


def test_head_scores_and_gets_the_same_gradients_with_either_loop():
    """Same weights: scores within 1e-5 and every parameter's gradient within rounding. (Trained weights are
    not compared: AdamW turns the ~1e-9 rounding noise of gradients that are zero in exact arithmetic, such
    as the input-gate biases', into full-size steps, whichever loop computes them.)"""
    from agiqa.model.head import M3Head, pad_right
    from agiqa.model.head_config import M3HeadConfig

    torch.manual_seed(0)
    fast = M3Head(M3HeadConfig(hidden_size=32, embedding_dim=32, context_length=256))
    ref = copy.deepcopy(fast)
    assert use_fast_recurrence(ref, fast=False) == 1
    assert type(ref.xlstm.blocks[1].xlstm.slstm_cell) is not type(fast.xlstm.blocks[1].xlstm.slstm_cell)
    feats = [torch.randn(n, 32) for n in (30, 57, 12, 44, 80, 5)]
    with torch.no_grad():
        fast.fc[2].bias.fill_(2.5)  # away from the clamp, so equality means something
        ref.fc[2].bias.fill_(2.5)
    torch.testing.assert_close(fast.score(feats), ref.score(feats), rtol=0, atol=1e-5)
    hidden, mask = pad_right(feats, 256)
    y = torch.tensor([0.5, 4.0, 2.5, 3.0, 1.0, 4.5])
    for head in (fast, ref):
        head.train()
        torch.nn.functional.mse_loss(head(hidden, mask), y).backward()
    for (name, a), (_, b) in zip(fast.named_parameters(), ref.named_parameters(), strict=True):
        if b.grad is not None:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name)
