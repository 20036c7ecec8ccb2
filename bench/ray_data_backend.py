"""Cost per shard of `runner.kind: ray-data` against `ray` (agiqa's actor pool), side by side.

Many small shards (default 200 of 4 rows) scored by FakeMethod (no model, no sleep), so the time is the
runner's own per-shard cost: scheduling, the actor call, the shard's open/commit/manifest. Each runner
starts from a fresh local Ray and is timed from `run_job` to its summary (start-up included, and reported
apart). Prints seconds per shard for each and the ratio.

    PYTHONPATH=. python bench/ray_data_backend.py [--shards 200 --rows 4 --cpus 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def write_input(root: Path, shards: int, rows: int) -> None:
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.random.RandomState(0).rand(16, 16, 3) * 255).astype("uint8")).save(buf, "PNG")
    png = buf.getvalue()
    root.mkdir(parents=True)
    for k in range(shards):
        pq.write_table(pa.table({"id": [f"{k}-{i}" for i in range(rows)], "image": [png] * rows,
                                 "prompt": [f"prompt {k} {i}" for i in range(rows)]}), root / f"s{k:05d}.parquet")


def run(kind: str, data: Path, out: Path, cpus: int) -> dict:
    import ray

    import agiqa.testing.fakes  # noqa: F401  (registers method "fake")
    from agiqa.config import ScoreJobConfig
    from agiqa.runner.run import run_job
    from agiqa.workflows.score import build_score_job

    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    try:
        cfg = ScoreJobConfig(input=str(data), output=str(out), method={"name": "fake"}, runner={"kind": kind},
                             progress=False)
        t0 = time.perf_counter()
        s = run_job(build_score_job(cfg))
        wall = time.perf_counter() - t0
    finally:
        ray.shutdown()
    assert not s.failed and s.shards_done == len(list(data.glob("*.parquet"))), s.failed
    return {"wall_s": wall, "startup_s": s.startup_s, "shards": s.shards_done}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=int, default=200)
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--cpus", type=int, default=2)
    a = ap.parse_args()
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    tmp = Path(tempfile.mkdtemp(prefix="agiqa-bench-ray-data-"))
    write_input(tmp / "in", a.shards, a.rows)
    got = {kind: run(kind, tmp / "in", tmp / kind, a.cpus) for kind in ("ray", "ray-data")}
    print(f"{a.shards} shards x {a.rows} rows, FakeMethod, local Ray with {a.cpus} CPUs")
    print(f"{'runner':<10}{'wall s':>9}{'start-up s':>12}{'ms/shard':>10}{'ms/shard after start-up':>25}")
    for kind, r in got.items():
        per, steady = 1000 * r["wall_s"] / r["shards"], 1000 * (r["wall_s"] - r["startup_s"]) / r["shards"]
        print(f"{kind:<10}{r['wall_s']:>9.1f}{r['startup_s']:>12.1f}{per:>10.1f}{steady:>25.1f}")
    ray_, rd = got["ray"], got["ray-data"]
    print(f"ray-data / ray: {rd['wall_s'] / ray_['wall_s']:.2f}x wall, "
          f"{(rd['wall_s'] - rd['startup_s']) / (ray_['wall_s'] - ray_['startup_s']):.2f}x after start-up")


if __name__ == "__main__":
    main()
