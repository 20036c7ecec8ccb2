"""Rows/s of the engines on the tiny model on CPU, all three aspects, side by side.

- `vllm`: one vLLM engine serves both rounds (round 1 and the scoring pass of every conversation
  in flight together, the heads' projection inside the engine);
- `vllm-2`: the design it replaced, two vLLM runners (generation + pooling) called per batch
  (`bench/two_engine_vllm.py`);
- `hf`: transformers + peft.
Same rows, same batch size, the same M3 stage and heads; only the engine differs. Engines are
built once (start-up reported apart), then the rows are scored alternately by each. On this tiny
model the figures say what the designs cost in overhead, not what a GPU would see.

    python bench/bench_engines.py [--rows 48] [--batch-size 16] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    import pyarrow as pa

    from agiqa.demo_models.tiny_model import build_tiny_model
    from agiqa.runner.engine_loop import run_sync
    from bench.bench_batching import make_rows
    from bench.m3 import m3_stage

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    model = build_tiny_model(tempfile.mkdtemp() + "/tiny")
    images, prompts = make_rows(args.rows)
    table = pa.table({"id": list(range(args.rows)), "image": images, "prompt": prompts})
    procs, startup, kept = {}, {}, []
    for name in ("hf", "vllm", "vllm-2"):
        t = time.perf_counter()
        procs[name] = m3_stage(model, name=name.split("-")[0], batch_size=args.batch_size,
                               max_new_tokens=args.max_new_tokens)
        if name == "vllm-2":  # the same stage, its engine swapped for the two-runner one
            from bench.two_engine_vllm import TwoEngineVLLM

            one = procs[name].method.engine  # left open: closing an in-process engine tears down vLLM's
            kept.append(one)                 # process-wide state, which the other vllm stage still uses
            two = TwoEngineVLLM(one)
            two.project_with(procs[name].method.head_files())
            procs[name].method.engine = two
        startup[name] = time.perf_counter() - t
        run_sync(procs[name].process(procs[name].prepare(table.slice(0, 2).to_batches()[0])))  # warm-up
    res: dict[str, list[float]] = {name: [] for name in procs}
    for _ in range(args.repeats):
        for name, p in procs.items():
            t = time.perf_counter()
            for b in table.to_batches(max_chunksize=args.batch_size):
                run_sync(p.process(p.prepare(b)))
            res[name].append(args.rows / (time.perf_counter() - t))
    hf, vl, v2 = max(res["hf"]), max(res["vllm"]), max(res["vllm-2"])
    print(f"tiny model, {args.rows} rows x 3 aspects, batch {args.batch_size}, {args.max_new_tokens} new tokens, CPU")
    for name in procs:
        print(f"  {name:6s} {max(res[name]):7.2f} rows/s (runs {', '.join(f'{x:.2f}' for x in res[name])}); "
              f"start-up {startup[name]:.1f} s")
    print(f"  ratio vllm / hf: {vl / hf:.2f}x; one engine / two engines: {vl / v2:.2f}x")
    for name, p in procs.items():
        t = p.times
        rounds = (f"both rounds together {t['engine']:.1f} s" if "engine" in t
                  else f"describe {t['describe']:.1f} s, scoring pass {t['hidden']:.1f} s")
        print(f"  {name:6s} time split over all runs: {rounds}, heads {t['head']:.1f} s, prepare {t['prepare']:.1f} s")


if __name__ == "__main__":
    main()
