"""The runner's whole-job overhead and what batches in flight buy, with FakeMethod (no model), side by side.

A job (planning, the streamer's prepare pool and engine loop, Parquet writing, atomic commits,
manifests, summary) against the bare stage loop in one process (read each shard's batches,
`stage.prepare`, `stage.process`, one after another, nothing written), same stage, same batch size,
same rows. FakeMethod decodes every image and, per batch, waits a time in `--latency-ms` LO,HI chosen
from the batch's prompts (an async engine holds a batch as long as its longest description takes;
deterministic, so every run sees the same latencies). The engine-time floor is the sum of those
waits (K=1), or a K-th of it with K batches in flight.

    python bench/bench_runner.py [--shards 40 --rows 100 --batch 32 --latency-ms 1,20 --repeats 2]

Prints rows/s of the bare loop, of local and Ray jobs (1 actor) at K=1 and K=4, their ratios to the
bare loop, K=4 / K=1, the fraction of the engine-time floor each reaches, and the driver's CPU time
per shard.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_data(root: Path, shards: int, rows: int) -> None:
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    rng = np.random.default_rng(0)
    images = []
    for _ in range(rows):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
        images.append(buf.getvalue())
    root.mkdir(parents=True)
    for s in range(shards):
        pq.write_table(pa.table({"id": [f"{s}-{i}" for i in range(rows)], "image": images,
                                 "prompt": [f"prompt {i}" for i in range(rows)]}), root / f"part-{s:05d}.parquet",
                       row_group_size=rows)


def bare_loop(cfg) -> float:
    """Rows/s of the stage alone: read, prepare, process, one batch after another, nothing written."""
    import pyarrow.parquet as pq

    from agiqa.runner.engine_loop import run_sync
    from agiqa.workflows.score import build_score_job

    stage = build_score_job(cfg).passes[0].stage
    stage.setup()
    t, rows = time.perf_counter(), 0
    for path in sorted(Path(cfg.input).glob("*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=cfg.read_batch_rows):
            rows += run_sync(stage.process(stage.prepare(batch, None))).num_rows
    stage.teardown()
    return rows / (time.perf_counter() - t)


def engine_seconds(cfg) -> float:
    """The sum of FakeMethod's per-batch waits over the input: the engine-time floor at K=1."""
    import pyarrow.parquet as pq

    from agiqa.testing.fakes import FakeMethod

    method = FakeMethod(cfg.method)
    return sum(method.latency(b.column("prompt").to_pylist())
               for path in sorted(Path(cfg.input).glob("*.parquet"))
               for b in pq.ParquetFile(path).iter_batches(batch_size=cfg.read_batch_rows))


def job(cfg) -> tuple[float, float, float]:
    """(rows/s over the whole job, rows/s after start-up, driver CPU seconds per shard)."""
    from agiqa.api import score

    cpu, t = time.process_time(), time.perf_counter()
    s = score(cfg)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    assert s.shards_failed == 0 and s.shards_done == s.shards_total, s.table()
    return s.rows / wall, s.rows / (wall - s.startup_s), cpu / s.shards_done


def main() -> None:
    import ray

    import agiqa.testing.fakes  # noqa: F401  (registers method "fake")
    from agiqa.config import ScoreJobConfig

    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", type=int, default=40)
    ap.add_argument("--rows", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--latency-ms", default="1,20", help="LO,HI: FakeMethod's per-batch wait range (ms)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--prepare-workers", type=int, default=os.cpu_count() or 2,
                    help="the jobs' decode threads (default: this machine's cores)")
    args = ap.parse_args()
    lo, hi = (float(x) / 1000 for x in args.latency_ms.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="agiqa-bench-runner-"))
    write_data(tmp / "in", args.shards, args.rows)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray.init(include_dashboard=False, log_to_driver=False)

    def cfg(out: str, runner: str, k: int = 1) -> ScoreJobConfig:
        return ScoreJobConfig(input=str(tmp / "in"), output=str(tmp / out), progress=False,
                              read_batch_rows=args.batch, runner={"kind": runner, "max_batches_in_flight": k,
                                                               "prepare_workers": args.prepare_workers},
                              method={"name": "fake", "batch_latency_s": (lo, hi)})

    modes = [("local", 1), ("local", 4), ("ray", 1), ("ray", 4)]
    res: dict = {"bare": [], **{m: [] for m in modes}}
    for i in range(args.repeats):
        res["bare"].append(bare_loop(cfg("unused", "local")))
        for runner, k in modes:
            res[(runner, k)].append(job(cfg(f"{runner}-k{k}-{i}", runner, k)))
    bare = max(res["bare"])
    rows = args.shards * args.rows
    engine_s = engine_seconds(cfg("unused", "local"))
    print(f"{rows} rows in {args.shards} shards, batch {args.batch}, FakeMethod waits {args.latency_ms} ms per batch "
          f"(engine-time floor {rows / engine_s:.0f} rows/s at K=1), jobs with {args.prepare_workers} prepare threads")
    print(f"  bare stage loop, one process: {bare:8.1f} rows/s = {bare * engine_s / rows:.3f} of the K=1 floor "
          f"(runs {', '.join(f'{x:.1f}' for x in res['bare'])})")
    for runner, k in modes:
        best = max(res[(runner, k)])
        floor = rows * k / engine_s
        print(f"  {runner:5s} job K={k}: {best[0]:8.1f} rows/s whole job, {best[1]:8.1f} after start-up; "
              f"ratio to bare {best[0] / bare:.3f}x (after start-up {best[1] / bare:.3f}x); "
              f"{best[1] / floor:.3f} of the K={k} floor; driver CPU {min(r[2] for r in res[(runner, k)]) * 1000:.2f} "
              f"ms/shard")
    for runner in ("local", "ray"):
        print(f"  {runner}: K=4 / K=1 after start-up {max(res[(runner, 4)])[1] / max(res[(runner, 1)])[1]:.2f}x")
    ray.shutdown()


if __name__ == "__main__":
    main()
