"""CLIP-AGIQA on one GPU at the paper's backbone sizes: the job's rows/s against the GPU's own rate.

Builds random-weight CLIPs of ViT-B/16 and ViT-L/14 shapes through `build_tiny_clip` (the release's
folder layout, loaded by the same `ClipBackbone`), writes procedural shards, and measures side by side:

1. the job: `agiqa score --method clip-agiqa --runner local` (the method's defaults: fp16 on the GPU,
   batch 256; decoding and CLIP preprocessing on the stage's one I/O thread), rows/s after start-up;
2. the GPU alone: the same backbone's image tower + the three heads on pixel tensors already on the
   GPU, batch 256, fp16 (what the job could reach if the host kept up);
3. the host alone: decode + preprocess, one thread (what feeds the GPU in the job).

    python -m bench.bench_clip_gpu [--rows 4096] [--sizes b16,l14]

On the lent GPU machines carry pydantic (+ pydantic-core, annotated-types, typing-inspection) as wheels.
"""

from __future__ import annotations

import argparse
import io
import json
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


def host_rate(clip: Path, data: Path, n: int = 1000) -> float:
    """Images/s of decode + CLIP preprocessing on one thread (the job's I/O thread's work per row)."""
    import pyarrow.parquet as pq
    from PIL import Image

    from agiqa.model.clip.backbone import ClipBackbone

    bb = ClipBackbone(clip)
    blobs = [b for f in sorted(data.glob("*.parquet")) for b in pq.read_table(f, columns=["image"]).column(0)
             .to_pylist()][:n]
    t0 = time.perf_counter()
    for b in blobs:
        bb.preprocess(Image.open(io.BytesIO(b)).convert("RGB"))
    return len(blobs) / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--sizes", default="b16,l14")
    args = ap.parse_args()
    from agiqa.data.learnability import write_shards
    from agiqa.testing.tiny_clip import build_tiny_clip

    work = Path(tempfile.mkdtemp())
    data = work / "data"
    write_shards(str(data), args.rows, 4, seed=13)
    for name in args.sizes.split(","):
        s = SIZES[name]
        t0 = time.perf_counter()
        clip = build_tiny_clip(work / name, projection_dim=s["projection_dim"], text_config=s["text"],
                               vision_config=s["vision"])
        built = time.perf_counter() - t0
        res = subprocess.run([sys.executable, "-m", "agiqa", "score", "--method", "clip-agiqa", "--model", str(clip),
                              "--input", str(data), "--output", str(work / f"scored-{name}"), "--runner", "local",
                              "--no-progress"], capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"bench: score failed: {(res.stdout + res.stderr)[-2000:]}")
        summ = json.loads((work / f"scored-{name}" / "_agiqa" / "job_summary.json").read_text())
        job = summ["rows_ok"] / max(1e-9, summ["wall_s"] - summ["startup_s"])
        gpu, host = gpu_rate(clip), host_rate(clip, data)
        print(json.dumps({"backbone": name, "rows": summ["rows_ok"], "job_rows_per_s": round(job),
                          "gpu_only_rows_per_s": round(gpu), "host_one_thread_rows_per_s": round(host),
                          "job_over_gpu": round(job / gpu, 3), "job_over_host": round(job / host, 3),
                          "build_s": round(built)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
