"""`finetune` throughput: LoRA distillation samples/s and peak memory, against the hardware floor.

Builds a random-weight Qwen2-VL of a real family size (`--preset`, shapes from
bench_gpu_engine.PRESETS) through `agiqa.demo_models.tiny_model.build_tiny_model`, encodes procedural rows
with teacher descriptions (`agiqa.data.learnability`) through the real `ExampleEncoder`, and
times `distill` (transformers' Trainer, the same loop `agiqa finetune` runs) per batch size, after
a warm-up run. The floor: the LoRA sits on the language model only, so the vision tower runs
forward only (2 FLOPs per parameter per patch, before the 2x2 merge) and the language model
forward plus the input-gradient backward through its frozen weights (4 FLOPs per parameter per
token; LoRA's own weights and the attention scores are negligible at these lengths), so
samples/s ≤ peak FLOP/s / (2 · vision parameters · patches + 4 · language parameters · tokens).

    python -m bench.bench_finetune --preset tiny --device cpu --steps 6            # here, 2 cores
    python -m bench.bench_finetune --preset qwen2vl-2b --bf16 --batch-sizes 4,16   # one GPU
On the lent GPU machines carry the wheels torch/transformers/peft lack there (xlstm for the
heads the builder writes, accelerate for the Trainer) and `pip install --no-deps` them first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def main() -> None:
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from agiqa.data.learnability import make_row
    from agiqa.demo_models.tiny_model import build_tiny_model
    from agiqa.model.prompts import M3AGIQA
    from agiqa.training import distill as D
    from bench.bench_gpu_engine import PRESETS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    ap.add_argument("--batch-sizes", default="4")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--image-size", type=int, default=448)
    ap.add_argument("--max-length", type=int, default=768)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--profile", action="store_true",
                    help="After the timed runs, profile 3 steps at the last batch size: top kernels by GPU time.")
    ap.add_argument("--peak-tflops", type=float, help="Device peak (default: 989 for H100 bf16, else none).")
    args = ap.parse_args()

    p = PRESETS[args.preset]
    model_dir = build_tiny_model(tempfile.mkdtemp() + "/m", text_config=p["text"], vision_config=p["vision"],
                                 vocab_size_padded=None if args.preset == "tiny" else 151936, with_adapters=False,
                                 context_length=max(1024, args.max_length))
    px = args.image_size ** 2
    processor = AutoProcessor.from_pretrained(model_dir, size={"shortest_edge": min(px, 3136), "longest_edge": px})
    encoder = D.ExampleEncoder(processor, args.max_length)
    sizes = [int(x) for x in args.batch_sizes.split(",")]
    rows = [make_row(i, 3, args.image_size) for i in range(max(sizes) * 2)]
    import io

    examples = [encoder.encode(D.DistillRow(Image.open(io.BytesIO(r["image"])).convert("RGB"),
                                            M3AGIQA.first_turn("quality", r["prompt"]), r["quality_teacher"],
                                            M3AGIQA.second_turn("quality"), r["quality_mos"])) for r in rows]
    tokens = sum(len(e["input_ids"]) for e in examples) / len(examples)
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=dtype).to(args.device)
    params = sum(t.numel() for t in model.parameters())
    vision = sum(t.numel() for n, t in model.named_parameters() if ".visual." in f".{n}")
    patches = sum(int(e["image_grid_thw"].prod()) for e in examples) / len(examples)
    flops_per_sample = 2 * vision * patches + 4 * (params - vision) * tokens
    model = D.add_lora(model, D.DistillSettings())
    pad = processor.tokenizer.pad_token_id
    peak = args.peak_tflops or (989.0 if args.device == "cuda" and args.bf16 else None)
    print(f"{args.preset}: {params / 1e9:.2f} B parameters ({vision / 1e9:.2f} B vision), {tokens:.0f} tokens "
          f"and {patches:.0f} patches per sample ({args.image_size}px images), "
          f"{flops_per_sample / 1e12:.2f} TFLOP per sample, device {args.device}", flush=True)
    for bs in sizes:
        data = (examples * (args.steps * bs // len(examples) + 1))[: args.steps * bs]
        settings = D.DistillSettings(max_steps=args.steps, batch_size=bs, bf16=args.bf16,
                                     gradient_checkpointing=args.gradient_checkpointing)
        with tempfile.TemporaryDirectory() as work:
            D.distill(model, data[: 2 * bs], pad, D.DistillSettings(max_steps=2, batch_size=bs, bf16=args.bf16,
                                                                   gradient_checkpointing=args.gradient_checkpointing),
                      work)  # warm-up
            if args.device == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            t0 = time.perf_counter()
            D.distill(model, data, pad, settings, work)
            if args.device == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
        sps = args.steps * bs / dt
        r = {"preset": args.preset, "batch_size": bs, "samples_per_s": round(sps, 2),
             "tokens_per_s": round(sps * tokens), "seconds": round(dt, 1),
             "peak_gpu_gb": round(torch.cuda.max_memory_allocated() / 2**30, 1) if args.device == "cuda" else None}
        if peak:
            floor = peak * 1e12 / flops_per_sample
            r["floor_samples_per_s"] = round(floor, 1)
            r["fraction_of_floor"] = round(sps / floor, 3)
        print(json.dumps(r), flush=True)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        bs = sizes[-1]
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device == "cuda" else [])
        with tempfile.TemporaryDirectory() as work, profile(activities=acts) as prof:
            D.distill(model, examples[: bs] * 3, pad, D.DistillSettings(max_steps=3, batch_size=bs, bf16=args.bf16),
                      work)
        key = "self_cuda_time_total" if args.device == "cuda" else "self_cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=25, max_name_column_width=70), flush=True)


if __name__ == "__main__":
    main()
