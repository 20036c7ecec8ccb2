"""Folded vs unfolded head projection at real sizes (Llama-3-8B: hidden 4096, vocab 128256).

The reference computes `W(lm_head(h))`: [L, vocab] logits, then a vocab→512 map. agiqa folds both
maps into one hidden→512 matrix. Each path runs in its own fresh process so peak memory is its
own; time is the median of several runs. Prints the ratio of the two, measured in this run.

    python bench/bench_fold.py [--device cuda] [--positions 512] [--dtype float32]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, torch
path, device, dtype, L, H, V, D, reps = sys.argv[1:]
L, H, V, D, reps = int(L), int(H), int(V), int(D), int(reps)
dt = getattr(torch, dtype)
torch.manual_seed(0)
h = torch.randn(L, H, dtype=dt, device=device)
if path == "unfolded":
    lm = torch.randn(V, H, dtype=dt, device=device) * 0.01
    W = torch.randn(D, V, dtype=dt, device=device) * 0.01
    fn = lambda: torch.nn.functional.linear(torch.nn.functional.linear(h, lm), W)
elif path == "w_only":  # the head's own layer, given logits the MLLM already computed
    logits = torch.randn(L, V, dtype=dt, device=device)
    W = torch.randn(D, V, dtype=dt, device=device) * 0.01
    fn = lambda: torch.nn.functional.linear(logits, W)
else:
    P = torch.randn(D, H, dtype=dt, device=device) * 0.01  # folded once, offline
    fn = lambda: torch.nn.functional.linear(h, P)
sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
fn(); sync()
if device.startswith("cuda"):
    torch.cuda.reset_peak_memory_stats()
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for _ in range(reps):
    t = time.perf_counter(); fn(); sync(); times.append(time.perf_counter() - t)
times.sort()
out = {"path": path, "median_s": times[len(times) // 2], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
if device.startswith("cuda"):
    out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
print(json.dumps(out))
"""


def measure(path: str, args) -> dict:
    cmd = [sys.executable, "-c", CHILD, path, args.device, args.dtype, str(args.positions), str(args.hidden),
           str(args.vocab), str(args.out), str(args.reps)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--positions", type=int, default=512)
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--vocab", type=int, default=128256)
    ap.add_argument("--out", type=int, default=512)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    folded, unfolded, w_only = measure("folded", args), measure("unfolded", args), measure("w_only", args)
    flops_u = 2 * args.positions * args.hidden * args.vocab + 2 * args.positions * args.vocab * args.out
    flops_f = 2 * args.positions * args.hidden * args.out
    flops_w = 2 * args.positions * args.vocab * args.out
    print(f"device={args.device} dtype={args.dtype} L={args.positions} hidden={args.hidden} vocab={args.vocab} "
          f"out={args.out}")
    for r, fl in ((unfolded, flops_u), (w_only, flops_w), (folded, flops_f)):
        extra = f", peak GPU {r['peak_gpu_mb']:.0f} MB" if "peak_gpu_mb" in r else ""
        print(f"  {r['path']:9s} {r['median_s'] * 1e3:9.2f} ms  ({fl / r['median_s'] / 1e9:7.1f} GFLOP/s)  "
              f"peak RSS {r['peak_rss_mb']:.0f} MB{extra}")
    print(f"  speed-up folded vs unfolded: {unfolded['median_s'] / folded['median_s']:.1f}x "
          f"(FLOP ratio {flops_u / flops_f:.1f}x)")
    print(f"  speed-up folded vs W-over-given-logits only: {w_only['median_s'] / folded['median_s']:.1f}x "
          f"(FLOP ratio {flops_w / flops_f:.1f}x; the reference also pays for the logits themselves)")
    mem_key = "peak_gpu_mb" if "peak_gpu_mb" in folded else "peak_rss_mb"
    print(f"  peak memory ratio unfolded/folded ({mem_key}): {unfolded[mem_key] / folded[mem_key]:.1f}x")


if __name__ == "__main__":
    main()
