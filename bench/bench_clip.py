"""CLIP-AGIQA on this machine: learnability, throughput against the decode floor, and the cascade.

On the procedural dataset whose true MOS is known (the same train/test seeds as
bench_learnability.py, so its M3 figures sit beside these):

1. Learnability: make-tiny-model --method clip-agiqa --pretrain-vision (a procedural image-caption
   pretraining, on its own seed: a random CLIP sees nothing) -> train-head --method clip-agiqa (the paper's
   recipe) -> score the held-out set -> eval; again with --image-only (the paper's head for every
   aspect) to measure what the prompt input adds for correspondence. SRCC per aspect, wall times.
2. Throughput: CLIP-AGIQA scoring rows/s (local runner, start-up excluded) against the bare decode
   rate of the same images (PIL open + RGB, one thread: the runner decodes on one I/O thread).
3. The cascade, with the trained CLIP quality head as prefilter at three thresholds (its own 25/50/75th
   percentiles on the test set): the MLLM work saved (rows prefiltered), and what it costs in ranking
   when the main scorer is perfect (routed rows get their true MOS, prefiltered ones keep the cheap
   score): SRCC of the cascade's output vs the MOS, and the recall of the true best 20%.

    python bench/bench_clip.py [--workdir DIR] [--train-rows 600] [--test-rows 100] [--epochs 100]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def agiqa(*args: str) -> float:
    t0 = time.perf_counter()
    print("$ agiqa " + " ".join(args), flush=True)
    res = subprocess.run([sys.executable, "-m", "agiqa", *args], capture_output=True, text=True)
    lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln and "it/s]" not in ln and "s/it]" not in ln]
    print("\n".join("    " + ln for ln in lines[-6:]), flush=True)
    if res.returncode != 0:
        sys.exit(f"bench: `agiqa {args[0]}` failed ({res.returncode})")
    return time.perf_counter() - t0


def decode_rate(data: Path) -> tuple[int, float]:
    import pyarrow.parquet as pq
    from PIL import Image

    blobs = [b for f in sorted(data.rglob("*.parquet")) for b in pq.read_table(f, columns=["image"]).column(0).to_pylist()]
    t0 = time.perf_counter()
    for b in blobs:
        Image.open(io.BytesIO(b)).convert("RGB")
    return len(blobs), len(blobs) / (time.perf_counter() - t0)


def preprocess_rates(clip: Path, data: Path, n: int = 1000) -> dict:
    """Images/s of transformers' CLIPImageProcessor vs agiqa's PIL transform, one image at a time, same images."""
    import pyarrow.parquet as pq
    from PIL import Image
    from transformers import CLIPImageProcessor

    from agiqa.model.clip.backbone import PilClipTransform

    blobs = [b for f in sorted(data.rglob("*.parquet")) for b in pq.read_table(f, columns=["image"]).column(0).to_pylist()]
    images = [Image.open(io.BytesIO(b)).convert("RGB") for b in blobs[:n]]
    processor = CLIPImageProcessor.from_pretrained(clip)
    fast = PilClipTransform.from_processor(processor)
    out = {}
    for name, fn in (("image_processor", lambda im: processor(images=im, return_tensors="np")), ("pil", fast)):
        t0 = time.perf_counter()
        for im in images:
            fn(im)
        out[name] = len(images) / (time.perf_counter() - t0)
    return out


def cascade_figures(test: Path, scored: Path) -> list[dict]:
    import numpy as np
    import pyarrow.parquet as pq
    from scipy.stats import spearmanr

    s = pq.read_table(scored).to_pandas().set_index("id")
    y = pq.read_table(test, columns=["id", "quality_mos"]).to_pandas().set_index("id")["quality_mos"]
    cheap = s["quality_score"].loc[y.index].to_numpy()
    mos = y.to_numpy()
    best = set(np.argsort(-mos, kind="stable")[: max(1, round(0.2 * len(mos)))])
    out = []
    for q in (25, 50, 75):
        t = float(np.percentile(cheap, q))
        routed = cheap >= t
        final = np.where(routed, mos, cheap - 100.0)  # prefiltered rows rank below every routed one
        out.append({"threshold_percentile": q, "threshold": round(t, 4), "mllm_rows_saved": float(1 - routed.mean()),
                    "srcc_vs_mos": float(spearmanr(final, mos).statistic),
                    "recall_true_top20": float(np.mean([routed[i] for i in best]))})
    out.append({"threshold_percentile": 0, "mllm_rows_saved": 0.0, "srcc_vs_mos": 1.0, "recall_true_top20": 1.0})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/agiqa-bench-clip")
    ap.add_argument("--train-rows", type=int, default=600)
    ap.add_argument("--test-rows", type=int, default=100)
    ap.add_argument("--epochs", default="100")
    ap.add_argument("--throughput-rows", type=int, default=4000,
                    help="Rows of the throughput set (its own seed), enough that per-shard costs amortise.")
    ap.add_argument("--throughput-only", action="store_true",
                    help="Reuse the workdir's trained heads; measure only scoring vs decoding (for a quiet machine).")
    args = ap.parse_args()
    w = Path(args.workdir)
    clip, train, test = w / "clip", w / "train", w / "test"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t: dict[str, float] = {}
    if not clip.is_dir():
        t["pretrain_clip"] = agiqa("make-tiny-model", str(clip), "--method", "clip-agiqa", "--pretrain-vision")
    if not train.is_dir():
        agiqa("make-demo-data", str(train), "--rows", str(args.train_rows), "--shards", "4", "--seed", "11")
    if not test.is_dir():
        agiqa("make-demo-data", str(test), "--rows", str(args.test_rows), "--shards", "2", "--seed", "12")
    result: dict = {"settings": vars(args)}
    for variant, extra in (() if args.throughput_only else (("clip-agiqa", []), ("image-only", ["--image-only"]))):
        heads = w / f"heads-{variant}"
        t[f"train_{variant}"] = agiqa("train-head", "--method", "clip-agiqa", "--data", str(train), "--model",
                                      str(clip), "--output", str(heads), "--epochs", args.epochs, *extra)
        t[f"score_{variant}"] = agiqa("score", "--method", "clip-agiqa", "--model", str(clip), "--heads", str(heads),
                                      "--input", str(test), "--output", str(w / f"scored-{variant}"), "--runner",
                                      "local", "--no-progress", "--overwrite")
        agiqa("eval", "--scored", str(w / f"scored-{variant}"), "--labels", str(test), "--json",
              str(w / f"eval-{variant}.json"))
        result[variant] = json.loads((w / f"eval-{variant}.json").read_text())
    # throughput: a larger set of the same kind, scored vs decoded
    bulk = w / "bulk"
    if not bulk.is_dir():
        agiqa("make-demo-data", str(bulk), "--rows", str(args.throughput_rows), "--shards", "4", "--seed", "13")
    n, decode = decode_rate(bulk)
    agiqa("score", "--method", "clip-agiqa", "--model", str(clip), "--heads", str(w / "heads-clip-agiqa"),
          "--input", str(bulk), "--output", str(w / "scored-bulk"), "--runner", "local", "--no-progress",
          "--overwrite")
    summ = json.loads((w / "scored-bulk.agiqa" / "job_summary.json").read_text())
    scoring = summ["rows_ok"] / max(1e-9, summ["wall_s"] - summ["startup_s"])
    result["throughput"] = {"rows": n, "decode_rows_per_s": decode, "clip_agiqa_rows_per_s": scoring,
                            "ratio": scoring / decode, "preprocess_per_s": preprocess_rates(clip, bulk)}
    tp = result["throughput"]
    print("preprocessing, images/s one at a time: " + ", ".join(
        f"{k} {v:.0f}" for k, v in tp["preprocess_per_s"].items()))
    if args.throughput_only:
        print(f"throughput ({n} rows): decode {tp['decode_rows_per_s']:.0f} rows/s, clip-agiqa "
              f"{tp['clip_agiqa_rows_per_s']:.0f} rows/s, ratio {tp['ratio']:.2f}")
        return 0
    result["cascade"] = cascade_figures(test, w / "scored-clip-agiqa")
    result["seconds"] = t
    print(f"\n{'aspect':16}{'SRCC clip-agiqa':>17}{'SRCC image-only':>17}")
    for a in ("quality", "correspondence", "authenticity"):
        print(f"{a:16}{result['clip-agiqa'][a]['srcc']:>17.3f}{result['image-only'][a]['srcc']:>17.3f}")
    print(f"wall s: {json.dumps({k: round(v, 1) for k, v in t.items()})}")
    print(f"throughput ({n} rows): decode {tp['decode_rows_per_s']:.0f} rows/s, clip-agiqa "
          f"{tp['clip_agiqa_rows_per_s']:.0f} rows/s, ratio {tp['ratio']:.2f}")
    for c in result["cascade"]:
        print(f"cascade p{c['threshold_percentile']:>2}: MLLM rows saved {c['mllm_rows_saved']:.0%}, "
              f"SRCC {c['srcc_vs_mos']:.3f}, recall of true top 20% {c['recall_true_top20']:.0%}")
    (w / "bench_clip.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {w / 'bench_clip.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
