"""What one driver costs as the dataset grows, and the reduce steps as partial passes vs on the driver.

Measured side by side in one run, each case in its own subprocess reporting its wall time and
peak RSS (`resource.getrusage` ru_maxrss; a bare `import agiqa, pyarrow, numpy` gives the floor):

1. **Planning** a score pass (FakeMethod: no model) over N tiny shards on local disk, for N = 10^3,
   10^4, 10^5 (`--plan-shards`), and over 10^4 on a local S3 server (SeaweedFS): listing, manifest
   lookups, the lease. The slope (RSS and seconds per extra shard) says whether the driver stays
   flat. Then the same 10^4 shards *committed* (after a real runner pass over them), so the plan
   reads and verifies every manifest.
2. **A top-fraction cutoff over `--rows` synthetic scored rows** (10^7 by default, in shards of
   `--shard-rows`): today's driver-side reduce (`top_fraction_cutoff` scanning every shard in one
   process) against the same cutoff as partial passes (`workflows.cutoff_steps`: per-shard
   histograms, merged; the runner's local process, then Ray with one actor per CPU), and a rerun of
   the partial passes (every partial committed: only the merges run). The cutoffs must be equal.

    python bench/bench_scale.py [--plan-shards 1000,10000,100000 --s3-shards 10000 --rows 10000000]

The floor for a scan is reading the two columns once per histogram level: the partial passes read
them once per level as the driver does, spread over the processes; their gain is parallelism and
resumability, not fewer bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_tiny_shards(root: Path, n: int) -> None:
    """N one-row shards (id, prompt, a 1x1 PNG): what planning sees, nothing else matters."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 60, 30)).save(buf, "PNG")
    png = buf.getvalue()
    for s in range(n):
        d = root / f"d{s // 1000:03d}"
        if s % 1000 == 0:
            d.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"id": [f"{s}-0"], "image": [png], "prompt": ["a prompt"]}), d / f"p{s:06d}.parquet")


def write_scored(root: Path, rows: int, shard_rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for s, start in enumerate(range(0, rows, shard_rows)):
        n = min(shard_rows, rows - start)
        err = rng.random(n) < 0.01
        t = pa.table({"id": pa.array(np.char.add("r", np.arange(start, start + n).astype(str)).astype(object)),
                      "quality_score": pa.array(np.round(rng.uniform(0, 5, n), 3).astype(np.float32), mask=err),
                      "status": pa.array(np.where(err, "error", "ok"))})
        pq.write_table(t, root / f"part-{s:05d}.parquet")


def _score_job(data: str, out: str, runner: str = "local"):
    import agiqa.testing.fakes  # noqa: F401  (registers FakeMethod)
    from agiqa.config import ScoreJobConfig
    from agiqa.workflows.score import build_score_job

    cfg = ScoreJobConfig(input=data, output=out, method={"name": "fake"}, runner={"kind": runner}, progress=False)
    return build_score_job(cfg)


def _cutoff_job(data: str, out: str, runner: str):
    from agiqa.runner.job import ShardJob
    from agiqa.selection import CutoffSearch
    from agiqa.stages.cutoff import RankedRows
    from agiqa.workflows.cutoff_steps import cutoff_steps

    steps = cutoff_steps("cut", data, out, CutoffSearch("quality_score", "id", 0.3), RankedRows("status"))
    return ShardJob(passes=steps, runner=runner, progress=False)


def child(case: str, data: str, out: str) -> dict:
    t0 = time.perf_counter()
    result: dict = {}
    if case == "plan":
        from agiqa.runner.lease import lease_for
        from agiqa.runner.plan import plan_pass

        job = _score_job(data, out)
        with lease_for(job):
            plan = plan_pass(job, job.passes[0])
        result = {"todo": len(plan.todo), "skipped": len(plan.skipped)}
    elif case == "commit":  # a real pass over every shard, so a later plan finds them all committed
        from agiqa.runner.run import run_job

        s = run_job(_score_job(data, out))
        result = {"done": s.shards_done}
    elif case == "driver-cutoff":
        import pyarrow.compute as pc

        from agiqa.runner.reduce import ReduceContext
        from agiqa.selection import top_fraction_cutoff

        ctx = ReduceContext(_cutoff_job(data, out, "local"))

        def scan():
            for t in ctx.scan(data, ["quality_score", "id", "status"]):
                yield t.filter(pc.invert(pc.fill_null(pc.equal(t.column("status"), "error"), False)))

        result = {"cutoff": top_fraction_cutoff(scan, "quality_score", "id", 0.3).to_dict()}
    elif case in ("partial-local", "partial-ray"):
        from agiqa.runner.run import run_job

        s = run_job(_cutoff_job(data, out, case.split("-")[1]))
        assert not s.failed, s.failed
        result = {"cutoff": s.reduced["cut"], "passes": len(s.passes),
                  "skipped": sum(p["shards_skipped"] for p in s.passes)}
    else:
        import numpy  # noqa: F401
        import pyarrow  # noqa: F401

        import agiqa  # noqa: F401
    return {**result, "seconds": time.perf_counter() - t0,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(case: str, data, out, env: dict | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    p = subprocess.run([sys.executable, __file__, "--child", case, "--data", str(data), "--out", str(out)],
                       capture_output=True, text=True, env=env)
    if p.returncode:
        raise SystemExit(f"{case} failed:\n{p.stderr[-3000:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    print(f"[bench] {case} {data}: {r}", flush=True)
    return r


def upload(server, bucket: str, src: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = server.client()
    files = sorted(p for p in src.rglob("*.parquet"))
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda p: client.upload_file(str(p), bucket, f"in/{p.relative_to(src)}"), files))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan-shards", default="1000,10000,100000")
    ap.add_argument("--s3-shards", type=int, default=10_000)
    ap.add_argument("--commit-shards", type=int, default=10_000)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--shard-rows", type=int, default=50_000)
    ap.add_argument("--child")
    ap.add_argument("--data")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.data, a.out)))
        return
    plan_sizes = [int(x) for x in a.plan_shards.split(",") if x]
    with tempfile.TemporaryDirectory(prefix="agiqa-bench-scale-") as tmp:
        tmp = Path(tmp)
        base = run_child("imports", tmp, tmp / "none")
        plans = {}
        for n in plan_sizes:
            t0 = time.perf_counter()
            write_tiny_shards(tmp / f"tiny-{n}", n)
            print(f"[bench] {n} shards written in {time.perf_counter() - t0:.1f} s", flush=True)
            plans[n] = run_child("plan", tmp / f"tiny-{n}", tmp / f"out-{n}")
        committed = None
        if a.commit_shards:
            n = a.commit_shards
            src = tmp / f"tiny-{n}" if n in plans else None
            if src is None:
                src = tmp / f"tiny-c{n}"
                write_tiny_shards(src, n)
            commit = run_child("commit", src, tmp / f"committed-{n}")
            committed = (n, commit, run_child("plan", src, tmp / f"committed-{n}"))
        s3 = None
        if a.s3_shards:
            from tests.fixtures.s3 import start_seaweedfs, stop

            (tmp / "weed").mkdir()
            proc, server = start_seaweedfs(tmp / "weed")
            try:
                bucket = server.make_bucket()
                src = tmp / f"tiny-{a.s3_shards}"
                if not src.exists():
                    write_tiny_shards(src, a.s3_shards)
                t0 = time.perf_counter()
                upload(server, bucket, src)
                print(f"[bench] {a.s3_shards} shards uploaded in {time.perf_counter() - t0:.1f} s", flush=True)
                s3 = run_child("plan", f"s3://{bucket}/in", f"s3://{bucket}/out", env=server.env())
            finally:
                stop(proc)
        cut = {}
        if a.rows:
            data = tmp / "scored"
            t0 = time.perf_counter()
            write_scored(data, a.rows, a.shard_rows)
            print(f"[bench] {a.rows} scored rows written in {time.perf_counter() - t0:.1f} s", flush=True)
            cut["driver"] = run_child("driver-cutoff", data, tmp / "cut-driver")
            cut["partial, local"] = run_child("partial-local", data, tmp / "cut-local")
            cut["partial, rerun"] = run_child("partial-local", data, tmp / "cut-local")
            cut["partial, ray"] = run_child("partial-ray", data, tmp / "cut-ray")
            same = {json.dumps(r["cutoff"], sort_keys=True) for r in cut.values()}
            assert len(same) == 1, f"the cutoffs differ: {same}"

    print(f"\nscale on this machine ({os.cpu_count()} cores); floor RSS (python + agiqa + pyarrow + numpy): "
          f"{base['rss_mb']:.0f} MB\n")
    print(f"{'planning a pass':32s} {'shards':>8s} {'seconds':>8s} {'ms/shard':>9s} {'peak RSS':>9s} {'KB/shard':>9s}")
    rows = [("local, fresh output", n, r) for n, r in plans.items()]
    if committed:
        rows.append(("local, every shard committed", committed[0], committed[2]))
    if s3:
        rows.append(("S3 (SeaweedFS), fresh output", a.s3_shards, s3))
    for name, n, r in rows:
        kb = (r["rss_mb"] - base["rss_mb"]) * 1024 / n
        print(f"{name:32s} {n:8d} {r['seconds']:8.2f} {r['seconds'] * 1000 / n:9.3f} {r['rss_mb']:7.0f}MB {kb:9.2f}")
    if len(plans) >= 2:
        (n1, r1), (n2, r2) = list(plans.items())[0], list(plans.items())[-1]
        print(f"slope {n1}->{n2} shards: {(r2['seconds'] - r1['seconds']) * 1e3 / (n2 - n1):.3f} ms and "
              f"{(r2['rss_mb'] - r1['rss_mb']) * 1024 / (n2 - n1):.2f} KB of driver RSS per extra shard")
    if committed:
        print(f"committing {committed[0]} shards (FakeMethod, local): {committed[1]['seconds']:.1f} s")
    if cut:
        d = cut["driver"]
        print(f"\ntop_fraction 0.3 over {a.rows} rows ({-(-a.rows // a.shard_rows)} shards): equal cutoffs in all cases")
        print(f"{'how':18s} {'seconds':>8s} {'vs driver':>10s} {'driver RSS':>11s} {'Mrows/s':>8s}")
        for name, r in cut.items():
            print(f"{name:18s} {r['seconds']:8.2f} {d['seconds'] / r['seconds']:9.2f}x {r['rss_mb']:9.0f}MB "
                  f"{a.rows / r['seconds'] / 1e6:8.2f}")


if __name__ == "__main__":
    main()
