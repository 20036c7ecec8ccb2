"""Ray runner benchmarks, measured side by side in one run.

1. Overhead: rows/s of the whole job on Ray (driver, actor, storage, Parquet) vs the same
   stage scoring the same rows in one process (`--runner local`), same batch size, the real M3
   method on the tiny model. Both include the engine's start-up; both are also reported
   without it (steady state). (The runner against a bare stage loop: bench_runner.py.)
2. Scale, simulated: N actors (default 64), each standing in for a GPU with FakeMethod, which
   sleeps a fixed time per row, over a few thousand small shards on local disk. Reports the
   actors' busy fraction (time inside the engine / wall time while actors are up) and the
   driver's CPU time per shard.

    python bench/bench_ray.py overhead [--rows 96 --shards 6]
    python bench/bench_ray.py scale [--actors 64 --shards 3000 --sleep 0.2]
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


def overhead(args) -> None:
    import ray

    from agiqa.api import score
    from agiqa.config import ScoreJobConfig
    from agiqa.data.learnability import write_shards
    from agiqa.demo_models.tiny_model import build_tiny_model

    tmp = Path(tempfile.mkdtemp(prefix="agiqa-bench-ray-"))
    model = build_tiny_model(tmp / "model")
    write_shards(str(tmp / "data"), rows=args.rows, shards=args.shards, seed=0, size=96)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray.init(include_dashboard=False, log_to_driver=False)

    def cfg(name, runner):
        return ScoreJobConfig(input=str(tmp / "data"), output=str(tmp / name), progress=False, read_batch_rows=8,
                              runner={"kind": runner}, method={"name": "m3-agiqa", "engine": {
                                  "model": str(model), "max_new_tokens": 16, "batch_size": 8}})

    res = {}
    for i in range(args.repeats):
        for runner in ("local", "ray"):
            t = time.perf_counter()
            s = score(cfg(f"{runner}{i}", runner))
            wall = time.perf_counter() - t
            res.setdefault(runner, []).append((s.rows_ok + s.rows_error) / wall)
            res.setdefault(runner + "_steady", []).append((s.rows_ok + s.rows_error) / (wall - s.startup_s))
    loc, ray_ = max(res["local"]), max(res["ray"])
    print(f"{args.rows} rows in {args.shards} shards, tiny model, batch 8, 16 new tokens, 3 aspects")
    print(f"  one process (run_local):  {loc:.2f} rows/s  (runs {', '.join(f'{x:.2f}' for x in res['local'])})")
    print(f"  Ray job (1 actor):        {ray_:.2f} rows/s  (runs {', '.join(f'{x:.2f}' for x in res['ray'])})")
    print(f"  ratio Ray / one process: {ray_ / loc:.3f}x (target >= 0.95x)")
    sl, sr = max(res["local_steady"]), max(res["ray_steady"])
    print(f"  after start-up (engine built / actor ready): one process {sl:.2f}, Ray {sr:.2f} rows/s, "
          f"ratio {sr / sl:.3f}x")
    ray.shutdown()


def scale(args) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray

    import agiqa.testing.fakes  # noqa: F401  (registers method "fake")
    from agiqa.api import score
    from agiqa.config import ScoreJobConfig

    tmp = Path(tempfile.mkdtemp(prefix="agiqa-bench-scale-"))
    data = tmp / "data"
    data.mkdir()
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (100, 100, 100)).save(buf, "PNG")
    table = pa.table({"id": list(range(args.rows_per_shard)), "image": [buf.getvalue()] * args.rows_per_shard,
                      "prompt": ["p"] * args.rows_per_shard})
    for i in range(args.shards):
        pq.write_table(table, data / f"part-{i:06d}.parquet")
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray.init(num_cpus=args.actors, include_dashboard=False, log_to_driver=False)
    cfg = ScoreJobConfig(input=str(data), output=str(tmp / "out"), progress=False, read_batch_rows=args.rows_per_shard,
                         method={"name": "fake", "seconds_per_row": args.sleep / args.rows_per_shard},
                         runner={"shards_in_flight_per_actor": args.in_flight},
                         resources={"score": {"num_actors": args.actors, "num_cpus": 1}})
    cpu0, t0 = time.process_time(), time.perf_counter()
    s = score(cfg)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    ideal = args.shards * args.sleep / args.actors
    print(f"{args.actors} actors, {args.shards} shards, {args.sleep * 1000:.0f} ms engine time per shard (sleep)")
    print(f"  shards done {s.shards_done}, failed {s.shards_failed}; wall {wall:.1f} s "
          f"(ideal {ideal:.1f} s of engine time per actor, excluding actor start-up)")
    print(f"  actor start-up (all {args.actors} ready): {s.startup_s:.1f} s")
    print(f"  actor busy fraction after start-up (engine time / wall): {ideal / (wall - s.startup_s):.2%}")
    print(f"  driver CPU per shard: {cpu / args.shards * 1000:.2f} ms (driver CPU total {cpu:.1f} s)")
    ray.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--rows", type=int, default=96)
    o.add_argument("--shards", type=int, default=6)
    o.add_argument("--repeats", type=int, default=2)
    s = sub.add_parser("scale")
    s.add_argument("--actors", type=int, default=64)
    s.add_argument("--shards", type=int, default=3000)
    s.add_argument("--rows-per-shard", type=int, default=4)
    s.add_argument("--sleep", type=float, default=0.2)
    s.add_argument("--in-flight", type=int, default=2)
    args = ap.parse_args()
    overhead(args) if args.what == "overhead" else scale(args)


if __name__ == "__main__":
    main()
