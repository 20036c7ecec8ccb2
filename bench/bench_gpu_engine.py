"""M3-AGIQA throughput at real model sizes (random weights, no downloads), either engine, with the floor.

Presets build a random model with a real checkpoint's shapes through the project's own builders
(`build_tiny_model` for Qwen2-VL, `build_tiny_minicpmv` for MiniCPM-Llama3-V-2.5: Llama-3-8B +
SigLIP-400M), saved in bf16 and loaded through the same code a real checkpoint takes, with three
LoRA adapters on the language model (what vLLM serves) and three 512-wide heads. Random weights
rarely stop early, so descriptions run to `--max-new-tokens`: the worst case for round 1.

Printed per run (one JSON line each, then a summary):
- rows/s (all aspects of a row) and image-aspects/s, through the real stage (`ScoreStage.process`);
- the time split, from separate passes over the same conversations: vision + prefill (round 1 with
  one new token), decode (round 1 minus that), the scoring pass, the heads;
- peak GPU memory (this process; vLLM's engine process reserves `gpu_memory_utilization`);
- the FLOP floor per image-aspect from the model's shapes and the measured token counts
  (`bench/flops.py`), the device's measured bf16 matmul peak, and the fraction of the floor reached.

    python -m bench.bench_gpu_engine --preset minicpmv25-8b --engine vllm --image-size 512 --beams 1
    python -m bench.bench_gpu_engine --preset qwen2vl-2b --engine hf --batch-size 192
    python -m bench.bench_gpu_engine --preset tiny --device cpu --rows 4 --max-new-tokens 4   # dry run
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

from agiqa.runner.engine_loop import run_sync

QWEN2VL_VOCAB, LLAMA3_VOCAB = 151936, 128256
PRESETS = {
    # Shapes of Qwen/Qwen2-VL-2B-Instruct and -7B-Instruct (config.json).
    "qwen2vl-2b": dict(family="qwen2-vl", text=dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                                                   num_attention_heads=12, num_key_value_heads=2),
                       vision=dict(depth=32, embed_dim=1280, hidden_size=1536, num_heads=16, mlp_ratio=4)),
    "qwen2vl-7b": dict(family="qwen2-vl", text=dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                                                   num_attention_heads=28, num_key_value_heads=4),
                       vision=dict(depth=32, embed_dim=1280, hidden_size=3584, num_heads=16, mlp_ratio=4)),
    # openbmb/MiniCPM-Llama3-V-2_5: Llama-3-8B and SigLIP-so400m (27 layers, 1152 wide), 96 queries.
    "minicpmv25-8b": dict(family="minicpmv-2.5",
                          text=dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                                    num_attention_heads=32, num_key_value_heads=8),
                          vision=dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                                      num_attention_heads=16), query_num=96),
    "tiny": dict(family="qwen2-vl", text={}, vision={}),
    "tiny-minicpmv": dict(family="minicpmv-2.5", text={}, vision={}),
}


def build(preset: str, out: str, dtype: str):
    p = PRESETS[preset]
    if p["family"] == "minicpmv-2.5":
        from agiqa.demo_models.tiny_minicpmv import build_tiny_minicpmv

        real = preset != "tiny-minicpmv"
        return build_tiny_minicpmv(out, hidden_size=p["text"].get("hidden_size", 128), head_dim=512 if real else 32,
                                   lora_rank=64 if real else 4, query_num=p.get("query_num", 16),
                                   llm_config=p["text"], vision_config=p["vision"],
                                   vocab_size_padded=LLAMA3_VOCAB if real else None, adapters="lm", save_dtype=dtype)
    from agiqa.demo_models.tiny_model import build_tiny_model

    real = preset != "tiny"
    return build_tiny_model(out, text_config=p["text"], vision_config=p["vision"],
                            vocab_size_padded=QWEN2VL_VOCAB if real else None, head_dim=512 if real else 64,
                            lora_rank=64 if real else 8, context_length=2048, save_dtype=dtype)


def patches_per_image(model, family: str, image) -> int:
    """Vision-tower patches the model's processor makes of `image` (all slices, for MiniCPM-V)."""
    if family == "minicpmv-2.5":
        from agiqa.engines.minicpmv.image_processor import MiniCPMV25ImageProcessor

        pre = json.loads((model / "preprocessor_config.json").read_text())
        return int(sum(int(h) * int(w) for h, w in MiniCPMV25ImageProcessor(**pre)([image])["tgt_sizes"][0]))
    from transformers import AutoProcessor

    grid = AutoProcessor.from_pretrained(model).image_processor(images=[image], return_tensors="pt")["image_grid_thw"]
    return int(grid.prod())


def _set_new_tokens(engine, n: int) -> None:
    """Round 1's length for the split passes (engines read it from their config or their decoding)."""
    from dataclasses import replace

    engine.cfg = engine.cfg.model_copy(update={"max_new_tokens": n})
    if hasattr(engine, "decoding") and not callable(engine.decoding):
        engine.decoding = replace(engine.decoding, max_new_tokens=n)


def main() -> None:
    import pyarrow as pa
    import torch

    from agiqa.engines.base import DescribeRequest, ScoringRequest
    from bench.bench_batching import make_rows
    from bench.flops import image_aspect_flops, matmul_peak, parameter_counts
    from bench.m3 import m3_stage

    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="minicpmv25-8b", choices=sorted(PRESETS))
    ap.add_argument("--engine", default="vllm", choices=["hf", "vllm"])
    ap.add_argument("--beams", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64, help="rows per stage batch (hf: per generate call)")
    ap.add_argument("--rows", type=int, default=96)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--image-size", type=int, default=512)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.85)
    ap.add_argument("--model", help="an already built model folder (skips the build)")
    ap.add_argument("--static-cache", action="store_true", help="hf: round 1 with a static KV cache (compiled decode)")
    args = ap.parse_args()

    gpu = args.device.startswith("cuda")
    dtype = "bfloat16" if gpu else "float32"
    family = PRESETS[args.preset]["family"]
    t0 = time.perf_counter()
    from pathlib import Path

    model = Path(args.model) if args.model else build(args.preset, tempfile.mkdtemp() + "/m", dtype)
    build_s = time.perf_counter() - t0
    print(f"built {args.preset} in {build_s:.0f}s", flush=True)
    from io import BytesIO

    from PIL import Image

    def resize(b: bytes) -> bytes:
        out = BytesIO()
        Image.open(BytesIO(b)).convert("RGB").resize((args.image_size, args.image_size)).save(out, "PNG")
        return out.getvalue()

    images, prompts = make_rows(args.rows)
    images = [resize(b) for b in images]
    table = pa.table({"id": list(range(args.rows)), "image": images, "prompt": prompts})
    px = args.image_size * args.image_size
    t0 = time.perf_counter()
    stage = m3_stage(model, name=args.engine, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                     max_length=args.max_length, device=args.device, num_beams=args.beams, max_pixels=px,
                     min_pixels=min(px, 3136), gpu_memory_utilization=args.gpu_memory_utilization,
                     max_num_seqs=256, max_pending=1024, static_cache=args.static_cache)
    load_s = time.perf_counter() - t0
    method, engine = stage.method, stage.method.engine
    k = len(method.aspects)
    run_sync(stage.process(stage.prepare(table.slice(0, 2).to_batches()[0])))  # warm-up
    if gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = dict(method.times)
    t0 = time.perf_counter()
    for b in table.to_batches(max_chunksize=args.batch_size):
        run_sync(stage.process(stage.prepare(b)))
    full_s = time.perf_counter() - t0
    head_s = method.times["head"] - before["head"]

    # The split: the same conversations, one kind of pass at a time.
    prep = stage.prepare(table.to_batches(max_chunksize=args.rows)[0])
    convs, _ = method._conversations(prep.images, prep.prompts)
    describe = [DescribeRequest(c.aspect, c.image, c.first_turn) for c in convs]
    t0 = time.perf_counter()
    descriptions = engine.describe(describe)
    round1_s = time.perf_counter() - t0
    _set_new_tokens(engine, 1)
    t0 = time.perf_counter()
    engine.describe(describe)
    prefill_s = time.perf_counter() - t0
    _set_new_tokens(engine, args.max_new_tokens)
    scoring = [ScoringRequest(c.aspect, c.image, c.first_turn, d, c.second_turn, c.max_length, c.max_slices)
               for c, d in zip(convs, descriptions, strict=True)]
    t0 = time.perf_counter()
    states = engine.hidden_states(scoring)
    scoring_s = time.perf_counter() - t0

    tok = engine.tokenizer
    new_tokens = sum(len(tok.encode(d, add_special_tokens=False)) for d in descriptions) / len(descriptions)
    scoring_tokens = sum(s.shape[0] for s in states) / len(states)
    counts = parameter_counts(model)
    patches = patches_per_image(model, family, prep.images[0])
    flops = image_aspect_flops(counts, scoring_tokens, new_tokens, scoring_tokens, patches, k)
    peak = matmul_peak(args.device if gpu else "cpu", dtype)
    ia_per_s = args.rows * k / full_s
    floor = peak / flops
    r = {"preset": args.preset, "engine": args.engine, "static_cache": args.static_cache, "beams": args.beams,
         "image_size": args.image_size,
         "rows": args.rows, "batch_size": args.batch_size, "device": torch.cuda.get_device_name() if gpu else "cpu",
         "rows_per_s": args.rows / full_s, "image_aspects_per_s": ia_per_s, "load_s": load_s, "build_s": build_s,
         "split_s": {"vision_prefill": prefill_s, "decode": max(0.0, round1_s - prefill_s),  # two runs: noise can invert them
                     "scoring_pass": scoring_s,
                     "heads": head_s},
         "tokens": {"new": new_tokens, "scoring": scoring_tokens, "patches_per_image": patches},
         "params": counts, "tflop_per_image_aspect": flops / 1e12, "matmul_peak_tflops": peak / 1e12,
         "floor_image_aspects_per_s": floor, "fraction_of_floor": ia_per_s / floor,
         "peak_gpu_gb": torch.cuda.max_memory_allocated() / 2**30 if gpu else None}
    print(json.dumps(r), flush=True)
    print(f"{args.preset} {args.engine} beams {args.beams} {args.image_size}px: {r['rows_per_s']:.2f} rows/s, "
          f"{ia_per_s:.2f} image-aspects/s; floor {floor:.2f} ({flops / 1e12:.2f} TFLOP each at "
          f"{peak / 1e12:.0f} TFLOP/s measured): {100 * r['fraction_of_floor']:.1f}% of the floor")
    stage.teardown()


if __name__ == "__main__":
    from agiqa.errors import AgiqaError

    try:
        main()
    except (AgiqaError, ValueError) as e:  # a refused setup (e.g. --device cuda without a GPU): one line, exit 2
        print(f"bench_gpu_engine: {e}", file=sys.stderr)
        raise SystemExit(2) from None
