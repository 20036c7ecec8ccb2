"""A faster sLSTM recurrence for the xLSTM library's "vanilla" (non-CUDA) backend: the same values.

The library's vanilla loop (xlstm/blocks/slstm/src/vanilla) writes every step's states and gates
into preallocated [S+1, ...] tensors in place. Under autograd each such write is a CopySlices
node whose backward copies the whole tensor, so training cost grows with the square of the
sequence length; autograd also records ~25 tiny ops per step, and the kernel is re-laid out and
the states re-stacked at every step. This loop keeps the library's forward arithmetic (the
block-diagonal recurrent product done as one matmul with the blocks laid out once, a
`torch.all(n == 0)` check made once: see `_SLSTM`), records nothing per step, and computes the
backward by hand as the linear recurrence it is, with autograd's tie conventions. Tests hold it
to the library's loop (forward bit-identical in float64, gradients to 1e-10); bench/bench_slstm.py
measures the speed side by side. No library code is copied: this is the cell's maths, written out.

Only the "slstm" pointwise function with no constants is covered (what xLSTM's sLSTM blocks use);
other cells, and the CUDA backend (the library's fused kernels, for heads configured with
`slstm_backend: cuda` on a GPU), are left as they are.
"""

from __future__ import annotations

import torch
from torch.nn.functional import logsigmoid


def _block_matrix(R: torch.Tensor) -> torch.Tensor:
    """The block-diagonal recurrent kernel `R` [heads, gates*hd, hd] as one [H, gates*H] matrix whose columns
    are in the library's gate-major pre-activation order: `y @ W` is the library's per-head product."""
    num_heads, head_dim = R.shape[0], R.shape[2]
    gates = R.shape[1] // head_dim
    kernel = R.transpose(1, 2).reshape(num_heads, head_dim, gates, head_dim)  # [K, hd(in), G, hd(out)]
    full = R.new_zeros(num_heads, head_dim, gates, num_heads, head_dim)
    idx = torch.arange(num_heads, device=R.device)
    full[idx, :, :, idx, :] = kernel
    return full.reshape(num_heads * head_dim, gates * num_heads * head_dim)


def _tie_weight(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """d maximum(a, b) / d a as autograd defines it: 1 where a > b, 1/2 at a tie, 0 below."""
    return torch.where(a == b, 0.5, (a > b).to(a.dtype))


def _min_one_weight(e: torch.Tensor) -> torch.Tensor:
    """d minimum(e, 1) / d e as autograd defines it: 1 below 1, 1/2 at 1, 0 above."""
    return torch.where(e == 1.0, 0.5, (e < 1.0).to(e.dtype))


class _SLSTM(torch.autograd.Function):
    """The sLSTM sequence: forward as the library's loop, backward written out (no per-step graph).

    The backward is the chain rule of exactly the library's forward ops, with autograd's own
    conventions where they matter: `maximum`/`minimum` split the gradient in half at ties (the
    stabilised gates `minimum(exp(.), 1)` sit at such a tie whenever a gate is the maximum), and
    `m = i` while every `n` is zero. That happens at the first step only: after a step with
    `m = i` every `n` is 1, and `n` never decreases below min(1, n) afterwards (either the input
    gate or the forget gate is 1), so the library's per-step check is made once here.
    """

    @staticmethod
    def forward(ctx, x, states, R, b):
        batch, hidden = x.shape[1], states.shape[2]
        W = _block_matrix(R)
        y, c, n, m = states.unbind(0)
        first = bool(torch.all(n == 0.0))
        ones = torch.ones(batch, hidden, dtype=x.dtype, device=x.device)
        ys, cs, ns, ms = [y], [c], [n], [m]
        keep: dict[str, list] = {k: [] for k in ("i", "lfm", "og", "ei", "ef", "ig", "fg", "tz", "f")}
        for t, wx in enumerate(x.unbind(0)):
            raw = wx + y.mm(W) + b
            iraw, fraw, zraw, oraw = torch.unbind(raw.view(batch, 4, -1), dim=1)
            logfplusm = m + logsigmoid(fraw)
            m_new = iraw if (first and t == 0) else torch.max(iraw, logfplusm)
            ogate = torch.sigmoid(oraw)
            ei, ef = torch.exp(iraw - m_new), torch.exp(logfplusm - m_new)
            igate, fgate = torch.minimum(ei, ones), torch.minimum(ef, ones)
            tz = torch.tanh(zraw)
            c = fgate * c + igate * tz
            n = fgate * n + igate
            y = ogate * c / n
            m = m_new
            ys.append(y), cs.append(c), ns.append(n), ms.append(m)
            for k, v in (("i", iraw), ("lfm", logfplusm), ("og", ogate), ("ei", ei), ("ef", ef), ("ig", igate),
                         ("fg", fgate), ("tz", tz), ("f", fraw)):
                keep[k].append(v)
        out = torch.stack([torch.stack(ys), torch.stack(cs), torch.stack(ns), torch.stack(ms)])
        ctx.save_for_backward(out, R, W)
        ctx.keep, ctx.first = keep, first
        return out

    @staticmethod
    def backward(ctx, grad):
        out, R, W = ctx.saved_tensors
        st = {k: torch.stack(v) for k, v in ctx.keep.items()}
        del ctx.keep
        steps = out.shape[1] - 1
        y_all, c_all, n_all = out[0], out[1], out[2]
        c_prev, n_prev, c_new, n_new, y_new = c_all[:-1], n_all[:-1], c_all[1:], n_all[1:], y_all[1:]
        # the backward is a linear recurrence: its per-step coefficients, all steps at once
        w_ei = st["ei"] * _min_one_weight(st["ei"])
        w_ef = st["ef"] * _min_one_weight(st["ef"])
        w_i, w_l = _tie_weight(st["i"], st["lfm"]), _tie_weight(st["lfm"], st["i"])
        if ctx.first:  # m = i at the first step
            w_i[0], w_l[0] = 1.0, 0.0
        og_n = st["og"] / n_new
        y_n = y_new / n_new
        co = c_new * st["og"] * (1 - st["og"]) / n_new
        dz = st["ig"] * (1 - st["tz"] * st["tz"])
        sf = torch.sigmoid(-st["f"])
        Wt = W.t().contiguous()
        state_grads = bool(grad[1:, 1:].any())
        gy = grad[0, steps]
        gc = gn = gm = torch.zeros_like(gy)
        g_x = torch.empty(steps, *grad.shape[2:3], 4 * grad.shape[3], dtype=grad.dtype, device=grad.device)
        for t in range(steps - 1, -1, -1):
            if state_grads:
                gc, gn, gm = gc + grad[1, t + 1], gn + grad[2, t + 1], gm + grad[3, t + 1]
            gc_tot = torch.addcmul(gc, gy, og_n[t])
            gn_tot = gn - gy * y_n[t]
            g_fg = torch.addcmul(gc_tot * c_prev[t], gn_tot, n_prev[t])
            g_ig = torch.addcmul(gn_tot, gc_tot, st["tz"][t])
            g_u, g_v = g_fg * w_ef[t], g_ig * w_ei[t]
            g_m = gm - g_u - g_v
            g_lfm = torch.addcmul(g_u, g_m, w_l[t])
            draw = g_x[t].view(-1, 4, gy.shape[1])
            torch.addcmul(g_v, g_m, w_i[t], out=draw[:, 0])
            torch.mul(g_lfm, sf[t], out=draw[:, 1])
            torch.mul(gc_tot, dz[t], out=draw[:, 2])
            torch.mul(gy, co[t], out=draw[:, 3])
            gc, gn, gm = gc_tot * st["fg"][t], gn_tot * st["fg"][t], g_lfm
            gy = g_x[t].mm(Wt)
            if t:
                gy = gy + grad[0, t]
        g_states = torch.stack([grad[0, 0] + gy, grad[1, 0] + gc, grad[2, 0] + gn, grad[3, 0] + gm])
        g_W = y_all[:-1].reshape(-1, y_all.shape[-1]).t().mm(g_x.reshape(-1, g_x.shape[-1]))
        num_heads, head_dim = R.shape[0], R.shape[2]
        gates = R.shape[1] // head_dim
        blocks = g_W.view(num_heads, head_dim, gates, num_heads, head_dim)
        idx = torch.arange(num_heads, device=R.device)
        g_kernel = blocks[idx, :, :, idx, :]  # [K, hd(in), G, hd(out)]: the diagonal blocks only
        g_R = g_kernel.reshape(num_heads, head_dim, gates * head_dim).transpose(1, 2)
        return g_x, g_states, g_R, g_x.sum((0, 1))


def slstm_states(x: torch.Tensor, states: torch.Tensor, R: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """All states [4, S+1, B, H] of the sLSTM over pre-activations `x` [S, B, 4H] from `states` [4, B, H],
    with the block-diagonal recurrent kernel `R` [heads, 4*head_dim, head_dim] and bias `b` [4H]
    (the library's internal layouts)."""
    return _SLSTM.apply(x, states, R, b)


def _fast_cell_class():
    from xlstm.blocks.slstm.cell import sLSTMCell_vanilla

    class FastVanillaSLSTMCell(sLSTMCell_vanilla):
        """The library's vanilla cell with `slstm_states` as its sequence loop (parameters unchanged)."""

        def _impl(self, training: bool, input: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
            return slstm_states(input, state, self._recurrent_kernel, self._bias).to(state.dtype)

    return sLSTMCell_vanilla, FastVanillaSLSTMCell


def use_fast_recurrence(module: torch.nn.Module, fast: bool = True) -> int:
    """Switch every eligible vanilla sLSTM cell in `module` to the faster loop (or back, `fast=False`);
    returns how many were switched. Weights and state-dict keys do not change."""
    vanilla, fast_cls = _fast_cell_class()
    count = 0
    for cell in module.modules():
        if isinstance(cell, vanilla) and cell.config.function == "slstm" and not cell.config.constants:
            cell.__class__ = fast_cls if fast else vanilla
            count += 1
    return count
