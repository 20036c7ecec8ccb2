"""The sLSTM recurrence on CPU: xLSTM's vanilla loop against agiqa's (agiqa/model/slstm_cpu.py), side by side.

Measures, interleaved in one run (median of repeats, so machine noise hits both alike):
  1. the recurrence alone, forward + backward, at the head's shapes (batch 8, ~200 tokens);
  2. one head-training epoch (`train_head`) on random features of the learnability run's shapes;
and checks the two give the same scores (same weights) and the same gradients.

    python bench/bench_slstm.py [--rows 64] [--tokens 200] [--embed 64] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> int:
    from xlstm.blocks.slstm.src.vanilla import slstm_forward, slstm_pointwise_function_registry

    from agiqa.model.head import M3Head
    from agiqa.model.head_config import M3HeadConfig
    from agiqa.model.slstm_cpu import slstm_states, use_fast_recurrence
    from agiqa.training.head_trainer import train_head

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--hidden", type=int, default=128, help="The MLLM's hidden size (tiny model: 128).")
    ap.add_argument("--embed", type=int, default=64, help="Head width (tiny model's heads: 64; reference: 512).")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch threads {torch.get_num_threads()}; {args.rows} rows x {args.tokens} tokens, hidden {args.hidden}, "
          f"head width {args.embed}")

    # 1. the recurrence alone
    heads, hd = 4, args.embed // 4
    x = torch.randn(args.tokens, 8, 4 * args.embed, requires_grad=True)
    R = (0.3 * torch.randn(heads, 4 * hd, hd)).requires_grad_()
    b = torch.randn(4 * args.embed, requires_grad=True)
    s0 = torch.zeros(4, 8, args.embed)
    pointwise = slstm_pointwise_function_registry["slstm"]

    def lib():
        slstm_forward(x, s0, R, b, pointwise)[0][0].sum().backward()

    def ours():
        slstm_states(x, s0, R, b)[0].sum().backward()

    tl, to = [], []
    for _ in range(args.repeats):
        tl += timed(lib, 1)
        to += timed(ours, 1)
    rl, ro = statistics.median(tl), statistics.median(to)
    print(f"recurrence fwd+bwd, batch 8: library {rl * 1e3:.1f} ms, agiqa {ro * 1e3:.1f} ms: {rl / ro:.2f}x faster")

    # 2. a head-training epoch, same weights and data
    fast = M3Head(M3HeadConfig(hidden_size=args.hidden, embedding_dim=args.embed, context_length=1024))
    ref = copy.deepcopy(fast)
    use_fast_recurrence(ref, fast=False)
    feats = [torch.randn(args.tokens - (i % 40), args.hidden) for i in range(args.rows)]
    y = [float(i % 5) for i in range(args.rows)]
    with torch.no_grad():
        diff = (fast.score(feats) - ref.score(feats)).abs().max().item()
    te_l, te_o = [], []
    for _ in range(max(2, args.repeats // 2)):
        te_l += timed(lambda: train_head(copy.deepcopy(ref), feats, y, epochs=1, batch_size=8), 1)
        te_o += timed(lambda: train_head(copy.deepcopy(fast), feats, y, epochs=1, batch_size=8), 1)
    el, eo = statistics.median(te_l), statistics.median(te_o)
    print(f"head-training epoch ({args.rows} rows): library loop {el:.2f} s, agiqa loop {eo:.2f} s: {el / eo:.2f}x faster")
    print(f"scores, same weights: max |difference| {diff:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
