"""CLIP-AGIQA on one GPU at the paper's backbone sizes: the job's rows/s against the GPU's own rate.

Builds random-weight CLIPs of ViT-B/16 and ViT-L/14 shapes through `build_tiny_clip` (the release's
folder layout, loaded by the same `ClipBackbone`), writes procedural shards, and measures side by side:

1. the job: `agiqa score --method clip-agiqa --runner local` (the method's defaults: fp16 on the GPU,
   batch 256, uint8 pixels stacked into pinned memory and normalised on the GPU; decoding and CLIP
   preprocessing on the stage's prepare pool of `--cpus` threads; 4 batches in flight), rows/s after
   start-up; with `--before` also the hot path as it was (one prepare thread, one batch at a time);
2. the GPU alone: the same backbone's image tower + the three heads on pixel tensors already on the
   GPU, batch 256, fp16 (what the job could reach if the host kept up);
3. the host alone: decode + preprocess on one thread and on `--cpus` threads (what feeds the GPU).

    python -m bench.bench_clip_gpu [--rows 4096] [--sizes b16,l14] [--cpus N] [--before]

On the lent GPU machines carry pydantic (+ pydantic-core, annotated-types, typing-inspection) as wheels.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# config.json of openai/clip-vit-base-patch16 and openai/clip-vit-large-patch14
SIZES = {
    "b16": dict(projection_dim=512,
                text=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8),
                vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                            image_size=224, patch_size=16)),
    "l14": dict(projection_dim=768,
                text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12),
                vision=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                            image_size=224, patch_size=14)),
}


def gpu_rate(clip: Path, batch: int = 256, repeats: int = 20) -> float:
    """Rows/s of image tower + heads on pixels already on the GPU (fp16), after warm-up."""
    import torch

    from agiqa.model.clip.backbone import ClipBackbone
    from agiqa.model.clip.head import ClipAgiqaHead

    bb = ClipBackbone(clip, device="cuda", dtype=torch.float16)
    heads = {a: ClipAgiqaHead.load(clip / "heads" / a, bb).to("cuda").eval()
             for a in ("quality", "correspondence", "authenticity")}
    text = {a: h.text_features(bb) for a, h in heads.items()}
    size = bb.model.config.vision_config.image_size
    pixels = torch.randn(batch, 3, size, size, device="cuda", dtype=torch.float16)
    prompt = torch.nn.functional.normalize(torch.randn(batch, bb.feature_dim, device="cuda"), dim=-1)

    def step():
        f = bb.image_features(pixels)
        with torch.no_grad():
            for a, h in heads.items():
                h(f, text[a], prompt if h.config.use_prompt else None)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        step()
    torch.cuda.synchronize()
    return batch * repeats / (time.perf_counter() - t0)


def host_rate(clip: Path, data: Path, threads: int = 1, n: int = 2000) -> float:
    """Images/s of decode + CLIP preprocessing on `threads` threads (the prepare pool's work per row)."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq
    from PIL import Image

    from agiqa.model.clip.backbone import ClipBackbone

    bb = ClipBackbone(clip)
    blobs = [b for f in sorted(data.glob("*.parquet")) for b in pq.read_table(f, columns=["image"]).column(0)
             .to_pylist()][:n]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda b: bb.preprocess(Image.open(io.BytesIO(b)).convert("RGB")), blobs, chunksize=16))
    return len(blobs) / (time.perf_counter() - t0)


def job_rate(clip: Path, data: Path, out: Path, cpus: int, workers: int | None, k: int) -> tuple[float, int]:
    """(rows/s after start-up, rows) of `agiqa score` with the prepare pool and batches in flight given."""
    cfg = out.with_suffix(".yaml")
    cfg.write_text(json.dumps({"input": str(data), "output": str(out), "progress": False, "overwrite": True,
                               "method": {"name": "clip-agiqa", "model": str(clip)},
                               "runner": {"kind": "local", "max_batches_in_flight": k, "prepare_workers": workers},
                               "resources": {"score": {"num_cpus": cpus}}}))
    res = subprocess.run([sys.executable, "-m", "agiqa", "score", "--config", str(cfg)], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"bench: score failed: {(res.stdout + res.stderr)[-2000:]}")
    summ = json.loads((Path(f"{out}.agiqa") / "job_summary.json").read_text())
    return summ["rows_ok"] / max(1e-9, summ["wall_s"] - summ["startup_s"]), summ["rows_ok"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--sizes", default="b16,l14")
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 1, help="host threads for decode + preprocess")
    ap.add_argument("--before", action="store_true", help="also the job as before streaming (1 thread, K=1)")
    args = ap.parse_args()
    from agiqa.data.learnability import write_shards
    from agiqa.demo_models.tiny_clip import build_tiny_clip

    work = Path(tempfile.mkdtemp())
    data = work / "data"
    write_shards(str(data), args.rows, 4, seed=13)
    for name in args.sizes.split(","):
        s = SIZES[name]
        t0 = time.perf_counter()
        clip = build_tiny_clip(work / name, projection_dim=s["projection_dim"], text_config=s["text"],
                               vision_config=s["vision"])
        built = time.perf_counter() - t0
        job, rows = job_rate(clip, data, work / f"scored-{name}", args.cpus, None, 4)
        gpu, host1, host = gpu_rate(clip), host_rate(clip, data, 1), host_rate(clip, data, args.cpus)
        line = {"backbone": name, "rows": rows, "job_rows_per_s": round(job), "gpu_only_rows_per_s": round(gpu),
                "host_one_thread_rows_per_s": round(host1), f"host_{args.cpus}_threads_rows_per_s": round(host),
                "job_over_gpu": round(job / gpu, 3), "job_over_host": round(job / host, 3), "build_s": round(built)}
        if args.before:
            before, _ = job_rate(clip, data, work / f"before-{name}", args.cpus, 1, 1)
            line.update(job_before_rows_per_s=round(before), now_over_before=round(job / before, 2))
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
