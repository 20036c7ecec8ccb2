"""hf engine throughput on a GPU with a random-weight model of a real family and size.

vLLM cannot be installed on the lent GPU machines, so this measures the hf engine (transformers
+ peft) end to end through the real M3 processor: round-1 generation with per-aspect LoRA, the
scoring pass, the heads. The model is Qwen2-VL with the shapes of a real checkpoint (random
weights, our locally trained tokenizer, vocabulary padded to the real size), built through
`agiqa.testing.tiny_model.build_tiny_model` and loaded through the same code a real checkpoint takes.
Random weights rarely emit end-of-sequence, so every description runs to max_new_tokens: the
worst case for round 1.

    python bench/bench_gpu_engine.py --preset qwen2vl-2b --batch-sizes 8,32 --max-new-tokens 128
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from agiqa.runner.engine_loop import run_sync

PRESETS = {
    # Shapes of Qwen/Qwen2-VL-2B-Instruct and Qwen/Qwen2-VL-7B-Instruct (config.json).
    "qwen2vl-2b": dict(
        text=dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                  num_key_value_heads=2),
        vision=dict(depth=32, embed_dim=1280, hidden_size=1536, num_heads=16, mlp_ratio=4),
    ),
    "qwen2vl-7b": dict(
        text=dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                  num_key_value_heads=4),
        vision=dict(depth=32, embed_dim=1280, hidden_size=3584, num_heads=16, mlp_ratio=4),
    ),
    "tiny": dict(text={}, vision={}),
}


def main() -> None:
    import pyarrow as pa
    import torch

    from agiqa.testing.tiny_model import build_tiny_model
    from bench.bench_batching import make_rows, reference_loop
    from bench.m3 import m3_stage

    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="qwen2vl-2b", choices=sorted(PRESETS))
    ap.add_argument("--batch-sizes", default="8,32")
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--single-rows", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--max-length", type=int, default=768)
    ap.add_argument("--image-size", type=int, default=448)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()

    p = PRESETS[args.preset]
    t0 = time.perf_counter()
    model = build_tiny_model(
        tempfile.mkdtemp() + "/m", text_config=p["text"], vision_config=p["vision"],
        vocab_size_padded=None if args.preset == "tiny" else 151936, head_dim=512, lora_rank=64,
        context_length=max(1024, args.max_length), save_dtype="bfloat16" if args.device == "cuda" else "float32",
    )
    print(f"built {args.preset} in {time.perf_counter() - t0:.0f}s", flush=True)
    px = args.image_size * args.image_size
    images, prompts = make_rows(args.rows)
    # make_rows draws small random images; upscale to the requested size so image tokens are realistic
    from io import BytesIO

    from PIL import Image

    def resize(b: bytes) -> bytes:
        out = BytesIO()
        Image.open(BytesIO(b)).resize((args.image_size, args.image_size)).save(out, "PNG")
        return out.getvalue()

    images = [resize(b) for b in images]
    table = pa.table({"id": list(range(args.rows)), "image": images, "prompt": prompts})
    results = []
    for bs in [int(x) for x in args.batch_sizes.split(",")]:
        t0 = time.perf_counter()
        proc = m3_stage(model, batch_size=bs, max_new_tokens=args.max_new_tokens, max_length=args.max_length,
                        device=args.device, max_pixels=px, min_pixels=min(px, 3136))
        load_s = time.perf_counter() - t0
        run_sync(proc.process(proc.prepare(table.slice(0, 2).to_batches()[0])))  # warm-up
        if args.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        before = proc.times
        t0 = time.perf_counter()
        for b in table.to_batches(max_chunksize=bs):
            run_sync(proc.process(proc.prepare(b)))
        dt = time.perf_counter() - t0
        tm = {k: v - before[k] for k, v in proc.times.items()}
        r = {"preset": args.preset, "batch_size": bs, "rows": args.rows, "rows_per_s": args.rows / dt,
             "load_s": load_s, "describe_s": tm["describe"], "hidden_s": tm["hidden"], "head_s": tm["head"],
             "prepare_s": tm["prepare"],
             "peak_gpu_gb": torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else None}
        if bs == max(int(x) for x in args.batch_sizes.split(",")) and args.single_rows:
            small = table.slice(0, args.single_rows).to_batches()[0]
            t0 = time.perf_counter()
            reference_loop(proc, small)
            r["one_at_a_time_rows_per_s"] = args.single_rows / (time.perf_counter() - t0)
        print(json.dumps(r), flush=True)
        results.append(r)
        proc.teardown()
        del proc
        if args.device == "cuda":
            torch.cuda.empty_cache()
    best = max(results, key=lambda r: r["rows_per_s"])
    print(f"{args.preset}: best {best['rows_per_s']:.2f} rows/s (3 aspects each) at batch {best['batch_size']}; "
          f"{best['rows_per_s'] * 3600:,.0f} rows/hour per GPU; "
          f"1M rows in {1e6 / best['rows_per_s'] / 3600:.1f} GPU-hours")
    if "one_at_a_time_rows_per_s" in results[-1]:
        r = results[-1]
        print(f"batched / one-at-a-time: {r['rows_per_s'] / r['one_at_a_time_rows_per_s']:.1f}x")


if __name__ == "__main__":
    main()
