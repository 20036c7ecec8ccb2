"""Rows/s of M3-AGIQA on MiniCPM-V 2.5 (tiny, released layout): agiqa's batched path vs a batch-1 loop
in the reference's style (`inference_e2e.py`: per image and aspect, `chat` then one forward then the head).

Both use the same engine, adapters, heads and rows in this process, timed alternately (noise on a
shared machine hits both); round 1 decodes as the reference does (3 beams, repetition penalty 1.2).

    python bench/bench_minicpmv.py [--rows 8] [--batch-size 8] [--max-new-tokens 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    from PIL import Image

    from agiqa.demo_models.tiny_minicpmv import build_tiny_minicpmv
    from agiqa.methods.m3.config import M3Config

    rs = np.random.RandomState(0)
    images = [Image.fromarray((rs.rand(rs.randint(200, 700), rs.randint(200, 700), 3) * 255).astype("uint8"))
              for _ in range(args.rows)]
    prompts = ["two red circles on a white background"] * args.rows
    aspects = ("quality", "authenticity")
    with tempfile.TemporaryDirectory() as d:
        model = build_tiny_minicpmv(f"{d}/m")
        cfg = M3Config(engine={"model": str(model), "max_new_tokens": args.max_new_tokens,
                               "batch_size": args.batch_size, "device": args.device})
        batched = cfg.build(aspects)
        batched.setup()
        one = M3Config(engine={**cfg.engine.model_dump(), "batch_size": 1}).build(aspects)
        one.engine, one.heads, one.prompts = batched.engine, batched.heads, batched.prompts

        def reference_style():
            bs = batched.engine.cfg.batch_size
            batched.engine.cfg.batch_size = 1
            try:
                for img, p in zip(images, prompts, strict=True):
                    for a in aspects:  # one image, one aspect at a time
                        one.aspects = (a,)
                        one.score([img], [p])
            finally:
                batched.engine.cfg.batch_size = bs

        times = {"agiqa batched": 0.0, "reference style (batch 1)": 0.0}
        batched.score(images[:1], prompts[:1])  # warm-up
        for _ in range(args.repeats):
            t = time.perf_counter()
            batched.score(images, prompts)
            times["agiqa batched"] += time.perf_counter() - t
            t = time.perf_counter()
            reference_style()
            times["reference style (batch 1)"] += time.perf_counter() - t
        rows = args.rows * args.repeats
        print(f"tiny MiniCPM-V 2.5, {args.rows} rows x {len(aspects)} aspects, batch {args.batch_size}, "
              f"{args.max_new_tokens} new tokens, 3 beams, {args.device}")
        for k, v in times.items():
            print(f"  {k:28s} {rows / v:7.2f} rows/s")
        print(f"  speed-up {times['reference style (batch 1)'] / times['agiqa batched']:.2f}x")


if __name__ == "__main__":
    main()
