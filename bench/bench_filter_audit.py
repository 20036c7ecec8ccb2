"""Filter and audit throughput and peak memory at 1x and 10x the rows, measured side by side in one run.

Scored shards are generated (no model: known random scores, 1% status=error, 5 generators, 2000
distinct prompts, 60-character descriptions, `--shard-rows` rows per shard). Each job runs in its
own subprocess, which reports its wall time and peak RSS (`resource.getrusage`, ru_maxrss): the
filter (local runner; `quality_score >= 2` AND `top_fraction correspondence_score=0.3`, so two
scans for the global cutoff, one apply pass writing keep/drop, one stats reduce) and the audit
(grouped by generator, per-shard statistics merged, figures and HTML written; no images, so no
thumbnails). A bare `import pyarrow, numpy` subprocess gives the floor of the RSS column.

    python bench/bench_filter_audit.py [--rows 100000 --shard-rows 10000]

Bounded memory means: the 10x peak RSS close to the 1x one, while the rows grow tenfold.
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


def write_data(root: Path, rows: int, shard_rows: int, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    prompts = np.array([f"prompt number {i} with some words" for i in range(2000)], dtype=object)
    words = np.array(["bad", "poor", "fair", "good", "excellent"], dtype=object)
    for s, start in enumerate(range(0, rows, shard_rows)):
        n = min(shard_rows, rows - start)
        q = np.round(rng.uniform(0, 5, n), 3).astype(np.float32)
        c = np.round(rng.uniform(0, 5, n), 2).astype(np.float32)
        err = rng.random(n) < 0.01
        qa = pa.array(q, mask=err)
        t = pa.table({
            "id": pa.array([f"row-{start + i:09d}" for i in range(n)]),
            "prompt": pa.array(prompts[rng.integers(0, len(prompts), n)]),
            "generator": pa.array(np.array([f"gen-{k}" for k in range(5)], dtype=object)[rng.integers(0, 5, n)]),
            "quality_score": qa, "quality_rating": pa.array(words[np.minimum(q.astype(int), 4)], mask=err),
            "quality_description": pa.array(np.full(n, "x" * 60, dtype=object), mask=err),
            "correspondence_score": pa.array(c, mask=err),
            "status": pa.array(np.where(err, "error", "ok")), "error": pa.array(np.where(err, "decode failed", None)),
        })
        pq.write_table(t, root / f"part-{s:05d}.parquet")


def child(job: str, data: str, out: str) -> None:
    t0 = time.perf_counter()
    if job == "filter":
        from agiqa.api import filter as filter_

        s = filter_({"input": data, "output": out, "rules": ["quality_score >= 2",
                                                           "top_fraction correspondence_score=0.3"],
                     "runner": {"kind": "local"}, "progress": False, "read_batch_rows": 8192})
        rows = s.reduced["stats"]["rows_in"]
        assert not s.failed
    elif job == "audit":
        from agiqa.api import audit

        rows = audit({"input": data, "output": out, "group_by": ["generator"], "progress": False})["rows"]
    else:
        import numpy  # noqa: F401
        import pyarrow  # noqa: F401

        rows = 0
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "rss_mb": rss_mb}))


def run_child(job: str, data: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, __file__, "--child", job, "--data", str(data), "--out", str(out)],
                       capture_output=True, text=True, env=env)
    if p.returncode:
        raise SystemExit(f"{job} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="Rows at 1x (10x is ten times that).")
    ap.add_argument("--shard-rows", type=int, default=10_000)
    ap.add_argument("--child")
    ap.add_argument("--data")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.child:
        child(a.child, a.data, a.out)
        return
    results = {}
    with tempfile.TemporaryDirectory(prefix="agiqa-bench-fa-") as tmp:
        base = run_child("imports", Path(tmp), Path(tmp) / "none")
        for scale in (1, 10):
            data = Path(tmp) / f"data-{scale}x"
            data.mkdir()
            t0 = time.perf_counter()
            write_data(data, a.rows * scale, a.shard_rows)
            print(f"[bench] {a.rows * scale} rows written in {time.perf_counter() - t0:.1f} s", flush=True)
            for job in ("filter", "audit"):
                results[(job, scale)] = r = run_child(job, data, Path(tmp) / f"{job}-{scale}x")
                print(f"[bench] {job} {scale}x: {r}", flush=True)
    print(f"\nfilter and audit on this CPU ({os.cpu_count()} cores), shards of {a.shard_rows} rows; "
          f"baseline RSS of python + pyarrow + numpy: {base['rss_mb']:.0f} MB\n")
    print(f"{'job':8s} {'rows 1x':>9s} {'rows/s 1x':>10s} {'rows 10x':>9s} {'rows/s 10x':>11s} "
          f"{'peak RSS 1x':>12s} {'peak RSS 10x':>13s} {'RSS ratio':>10s}")
    for job in ("filter", "audit"):
        x1, x10 = results[(job, 1)], results[(job, 10)]
        print(f"{job:8s} {x1['rows']:9d} {x1['rows'] / x1['seconds']:10.0f} {x10['rows']:9d} "
              f"{x10['rows'] / x10['seconds']:11.0f} {x1['rss_mb']:10.0f}MB {x10['rss_mb']:11.0f}MB "
              f"{x10['rss_mb'] / x1['rss_mb']:10.2f}")


if __name__ == "__main__":
    main()
