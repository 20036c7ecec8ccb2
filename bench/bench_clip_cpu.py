"""CLIP-AGIQA on this machine's CPUs against the JPEG decode floor of the same images on the same cores.

Builds a random-weight CLIP (tiny towers, the release's folder layout and preprocessing: resize the
short side to `--clip-size`, bicubic, centre crop, normalise), writes procedural images as JPEG
shards, and measures side by side, alternating, in one run:

- the floor: decoding every image (PIL open + RGB) on `--cores` threads, nothing else;
- the same with CLIP's preprocessing (what the prepare pool must do per row), on `--cores` threads;
- the job, now: `score` with the local runner, `resources.score.num_cpus = --cores` (so the prepare
  pool has `--cores` threads, torch 1 thread beside it), 4 batches in flight;
- the job as the hot path was before streaming: one prepare thread, one batch at a time;
- the model alone: the score stage's `process` on batches already prepared (one torch thread, the
  method's CPU default), and from it and the one-thread decode+preprocess rate the **work floor**:
  what `--cores` cores could do if every core did decode, preprocess and model work without overhead
  (`cores / (1/host + 1/model)`), the rate no scheduling of these threads can pass.

    python bench/bench_clip_cpu.py [--rows 2000] [--size 512] [--clip-size 224] [--cores 2] [--repeats 2]

Prints rows/s of each and the job's fraction of the decode floor. `--size 96 --clip-size 96 --format png`
is the earlier figure's setting (the procedural 96-px PNGs, where preprocessing is a no-op resize).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_data(root: Path, rows: int, size: int, fmt: str, shards: int = 4) -> list[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    from agiqa.data.learnability import make_row

    root.mkdir(parents=True)
    blobs, prompts = [], []
    for i in range(rows):
        r = make_row(i, 13, size)
        im = Image.open(io.BytesIO(r["image"])).convert("RGB")
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90) if fmt == "jpeg" else im.save(buf, "PNG")
        blobs.append(buf.getvalue())
        prompts.append(r["prompt"])
    per = -(-rows // shards)
    for s in range(shards):
        sl = slice(s * per, min(rows, (s + 1) * per))
        pq.write_table(pa.table({"id": [f"{s}-{i}" for i in range(sl.start, sl.stop)], "image": blobs[sl],
                                 "prompt": prompts[sl]}), root / f"part-{s}.parquet", row_group_size=64)
    return blobs


def pooled_rate(fn, blobs: list[bytes], threads: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(fn, blobs, chunksize=16):
            pass
    return len(blobs) / (time.perf_counter() - t0)


def job_rate(data: Path, out: Path, clip: Path, cores: int, workers: int | None, k: int) -> float:
    from agiqa.api import score
    from agiqa.config import ScoreJobConfig

    cfg = ScoreJobConfig(input=str(data), output=str(out), progress=False, overwrite=True,
                         runner={"kind": "local", "max_batches_in_flight": k, "prepare_workers": workers},
                         resources={"score": {"num_cpus": cores}},
                         method={"name": "clip-agiqa", "model": str(clip), "device": "cpu"})
    s = score(cfg)
    assert s.shards_failed == 0 and s.rows_ok == s.rows, s.table()
    return s.rows / max(1e-9, s.wall_s - s.startup_s)


def model_rate(data: Path, clip: Path) -> float:
    """Rows/s of the score stage's `process` (CLIP towers + heads, prompt cache cold) on prepared batches."""
    import pyarrow.parquet as pq

    from agiqa.methods.clip.config import ClipAgiqaConfig
    from agiqa.runner.engine_loop import run_sync
    from agiqa.stages.score import ScoreStage

    stage = ScoreStage(ClipAgiqaConfig(model=str(clip), device="cpu").build(("quality", "correspondence",
                                                                             "authenticity")))
    stage.setup()
    prepared = [stage.prepare(b) for f in sorted(data.glob("*.parquet"))
                for b in pq.ParquetFile(f).iter_batches(batch_size=64)]
    t0 = time.perf_counter()
    rows = sum(run_sync(stage.process(p)).num_rows for p in prepared)
    rate = rows / (time.perf_counter() - t0)
    stage.teardown()
    return rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--size", type=int, default=512, help="image side (px) of the procedural images")
    ap.add_argument("--clip-size", type=int, default=224, help="CLIP's input side (the paper's backbones: 224)")
    ap.add_argument("--format", choices=("jpeg", "png"), default="jpeg")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    from PIL import Image

    from agiqa.demo_models.tiny_clip import build_tiny_clip
    from agiqa.model.clip.backbone import ClipBackbone

    work = Path(tempfile.mkdtemp(prefix="agiqa-bench-clip-cpu-"))
    clip = build_tiny_clip(work / "clip", vision_config={"image_size": args.clip_size, "patch_size": 32})
    blobs = write_data(work / "data", args.rows, args.size, args.format)
    bb = ClipBackbone(clip)

    def decode(b):
        return Image.open(io.BytesIO(b)).convert("RGB")

    def decode_preprocess(b):
        return bb.preprocess(decode(b))

    res: dict[str, list[float]] = {"decode": [], "decode+preprocess": [], "job": [], "job before": []}
    for i in range(args.repeats):
        res["decode"].append(pooled_rate(decode, blobs, args.cores))
        res["decode+preprocess"].append(pooled_rate(decode_preprocess, blobs, args.cores))
        res["job"].append(job_rate(work / "data", work / f"out-{i}", clip, args.cores, None, 4))
        res["job before"].append(job_rate(work / "data", work / f"before-{i}", clip, args.cores, 1, 1))
    one = pooled_rate(decode, blobs, 1)
    host1 = pooled_rate(decode_preprocess, blobs, 1)
    model = model_rate(work / "data", clip)
    work_floor = args.cores / (1 / host1 + 1 / model)
    best = {k: max(v) for k, v in res.items()}
    floor = best["decode"]
    print(f"{args.rows} {args.format.upper()} images {args.size}x{args.size} ({sum(map(len, blobs)) / len(blobs) / 1024:.0f}"
          f" KiB mean), CLIP input {args.clip_size}, {args.cores} cores")
    print(f"  decode floor, {args.cores} threads: {floor:8.0f} rows/s   (1 thread: {one:.0f})")
    for k in ("decode+preprocess", "job", "job before"):
        runs = ", ".join(f"{x:.0f}" for x in res[k])
        print(f"  {k:28s} {best[k]:8.0f} rows/s = {best[k] / floor:.2f}x the decode floor  (runs {runs})")
    print(f"  model alone (1 torch thread): {model:.0f} rows/s; decode+preprocess 1 thread: {host1:.0f} rows/s")
    print(f"  work floor on {args.cores} cores: {work_floor:.0f} rows/s = {work_floor / floor:.2f}x the decode floor; "
          f"the job reaches {best['job'] / work_floor:.2f} of it (before: {best['job before'] / work_floor:.2f})")
    print(f"  job now / job before: {best['job'] / best['job before']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
