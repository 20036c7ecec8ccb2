"""Rows/s of the M3 processor on the tiny model: batched vs one image at a time (reference style).

The reference (M3-AGIQA `inference_e2e.py`) scores one image and one aspect at a time: chat
(describe), then one teacher-forced forward, then the head. agiqa sends all aspects of a batch of
rows to the engine at once. Both paths use the same engine, heads and rows, in this process, in
alternating order (noise on a shared machine hits both).

    python bench/bench_batching.py [--rows 32] [--batch-size 16] [--max-new-tokens 32] [--device cpu]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time

import numpy as np

from agiqa.runner.engine_loop import run_sync


def make_rows(n: int, seed: int = 0):
    from PIL import Image

    rs = np.random.RandomState(seed)
    images, prompts = [], []
    for i in range(n):
        h, w = rs.randint(64, 160), rs.randint(64, 160)
        buf = io.BytesIO()
        Image.fromarray((rs.rand(h, w, 3) * 255).astype("uint8")).save(buf, "PNG")
        images.append(buf.getvalue())
        prompts.append(f"{i % 4 + 1} red circles and a blue square on a white background")
    return images, prompts


def reference_loop(stage, batch) -> None:
    """One row, one aspect at a time: describe, forward, head (the reference's inference loop)."""
    from agiqa.engines.base import DescribeRequest, ScoringRequest

    m = stage.method
    prep = stage.prepare(batch)
    for i in range(prep.n):
        for a in m.aspects:
            first = m.prompts.first_turn(a, prep.prompts[i])
            desc = m.engine.describe([DescribeRequest(a, prep.images[i], first)])[0]
            h = m.engine.hidden_states([ScoringRequest(a, prep.images[i], first, desc, m.prompts.second_turn(a))])
            m.heads[a].score(h)


def main() -> None:
    import pyarrow as pa

    from agiqa.demo_models.tiny_model import build_tiny_model
    from bench.m3 import m3_stage

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", help="model folder (default: build a tiny one)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    model = args.model or build_tiny_model(tempfile.mkdtemp() + "/tiny")
    proc = m3_stage(model, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, device=args.device)
    images, prompts = make_rows(args.rows)
    table = pa.table({"id": list(range(args.rows)), "image": images, "prompt": prompts})
    run_sync(proc.process(proc.prepare(table.slice(0, 2).to_batches()[0])))  # warm-up

    def batched() -> None:
        for b in table.to_batches(max_chunksize=args.batch_size):
            run_sync(proc.process(proc.prepare(b)))

    def single() -> None:
        reference_loop(proc, table.to_batches()[0])

    res: dict[str, list[float]] = {"batched": [], "one-at-a-time": []}
    for _ in range(args.repeats):
        for name, fn in (("batched", batched), ("one-at-a-time", single)):
            t = time.perf_counter()
            fn()
            res[name].append(args.rows / (time.perf_counter() - t))
    b, s = max(res["batched"]), max(res["one-at-a-time"])
    print(f"rows={args.rows} aspects={len(proc.method.aspects)} batch_size={args.batch_size} "
          f"max_new_tokens={args.max_new_tokens} device={args.device}")
    print(f"  batched        {b:8.2f} rows/s  (runs: {', '.join(f'{x:.2f}' for x in res['batched'])})")
    print(f"  one-at-a-time  {s:8.2f} rows/s  (runs: {', '.join(f'{x:.2f}' for x in res['one-at-a-time'])})")
    print(f"  speed-up batched / one-at-a-time: {b / s:.2f}x")


if __name__ == "__main__":
    main()
