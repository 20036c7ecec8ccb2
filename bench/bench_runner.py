"""The runner's whole-job overhead, with FakeMethod (no model), measured side by side in one run.

A job (planning, prefetch thread, Parquet writing, atomic commits, manifests, summary) against the
bare stage loop in one process (read each shard's batches, `stage.prepare`, `stage.process`,
nothing written), same stage, same batch size, same rows. FakeMethod decodes every image and
sleeps `--ms-per-row` per row, as a GPU engine holds a batch while the CPU is free. The bare loop
is the floor: a job can only add to it (or hide decoding behind the engine, which the runner does).

    python bench/bench_runner.py [--shards 40 --rows 100 --batch 32 --ms-per-row 2 --repeats 2]

Prints rows/s of the bare loop, of a local job and of a Ray job (1 actor), their ratios to the
bare loop, and the driver's CPU time per shard in each job.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from agiqa.runner.engine_loop import run_sync

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

    from agiqa.workflows.score import build_score_job

    stage = build_score_job(cfg).passes[0].stage
    stage.setup()
    t, rows = time.perf_counter(), 0
    for path in sorted(Path(cfg.input).glob("*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=cfg.read_batch_rows):
            rows += run_sync(stage.process(stage.prepare(batch, None))).num_rows
    stage.teardown()
    return rows / (time.perf_counter() - t)


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
    ap.add_argument("--ms-per-row", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="agiqa-bench-runner-"))
    write_data(tmp / "in", args.shards, args.rows)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray.init(include_dashboard=False, log_to_driver=False)

    def cfg(out: str, runner: str) -> ScoreJobConfig:
        return ScoreJobConfig(input=str(tmp / "in"), output=str(tmp / out), progress=False,
                              read_batch_rows=args.batch, runner={"kind": runner},
                              method={"name": "fake", "seconds_per_row": args.ms_per_row / 1000})

    res: dict[str, list] = {"bare": [], "local": [], "ray": []}
    for i in range(args.repeats):
        res["bare"].append(bare_loop(cfg("unused", "local")))
        res["local"].append(job(cfg(f"local{i}", "local")))
        res["ray"].append(job(cfg(f"ray{i}", "ray")))
    bare = max(res["bare"])
    rows = args.shards * args.rows
    floor = f"floor: {1000 / args.ms_per_row:.0f} rows/s of engine time" if args.ms_per_row else "no engine time"
    print(f"{rows} rows in {args.shards} shards, batch {args.batch}, FakeMethod {args.ms_per_row} ms/row ({floor})")
    print(f"  bare stage loop, one process: {bare:8.1f} rows/s  (runs {', '.join(f'{x:.1f}' for x in res['bare'])})")
    for name in ("local", "ray"):
        best = max(res[name])
        print(f"  {name:5s} job: {best[0]:8.1f} rows/s whole job, {best[1]:8.1f} after start-up; "
              f"ratio to bare {best[0] / bare:.3f}x (after start-up {best[1] / bare:.3f}x); "
              f"driver CPU {min(r[2] for r in res[name]) * 1000:.2f} ms/shard")
    ray.shutdown()


if __name__ == "__main__":
    main()
