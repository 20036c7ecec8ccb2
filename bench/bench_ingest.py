"""Ingest throughput vs the raw read rate of the same files, and the Python API's per-call overhead vs the job.

    python bench/bench_ingest.py [--rows 1000] [--size 256]

1. A folder of N generated images (PNG and JPEG, `--size` px, from the procedural dataset) with a
   CSV of prompts: raw read (bytes only), raw read + full decode (what `--verify decode` adds),
   then `agiqa ingest` rows/s with 1 and 2 workers (`--verify decode` and `header`).
2. The same images in img2dataset-layout tars (100 per tar): raw stream read of the tars, then ingest.
3. The registered `fake` method (no model: the overhead is the point), the same N rows: `agiqa score`
   (local runner, one process, planning + manifests included) vs `agiqa.Scorer.score_table` on the
   whole table vs `agiqa.Scorer.score` called once per row.
Every figure is measured in this one run, side by side.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    import pyarrow.parquet as pq
    from PIL import Image

    import agiqa.testing.fakes  # noqa: F401 - registers `fake`
    from agiqa import Scorer
    from agiqa.api import ingest, score
    from agiqa.data.learnability import make_row

    work = tempfile.mkdtemp(prefix="agiqa-bench-ingest-")
    n = args.rows
    try:
        folder = os.path.join(work, "images")
        os.makedirs(folder)
        rows = [make_row(i, seed=3, size=args.size) for i in range(n)]
        names = []
        with open(os.path.join(work, "prompts.csv"), "w") as f:
            f.write("file_name,prompt\n")
            for i, r in enumerate(rows):
                ext = "jpg" if r["image"][:2] == b"\xff\xd8" else "png"
                names.append(f"{i:05d}.{ext}")
                with open(os.path.join(folder, names[-1]), "wb") as g:
                    g.write(r["image"])
                f.write(f'{names[-1]},"{r["prompt"]}"\n')
        mb = sum(len(r["image"]) for r in rows) / 1e6
        print(f"{n} images of {args.size}px, {mb:.1f} MB, on {os.cpu_count()} CPUs")

        def read_all():
            for name in sorted(os.listdir(folder)):
                with open(os.path.join(folder, name), "rb") as g:
                    g.read()

        def read_decode():
            for name in sorted(os.listdir(folder)):
                with open(os.path.join(folder, name), "rb") as g, Image.open(io.BytesIO(g.read())) as im:
                    im.load()

        t_read, _ = timed(read_all)
        t_dec, _ = timed(read_decode)
        print(f"folder  raw read            {n / t_read:9.0f} rows/s")
        print(f"folder  raw read + decode   {n / t_dec:9.0f} rows/s")
        for workers, verify in ((1, "decode"), (2, "decode"), (2, "header")):
            out = os.path.join(work, f"out-{workers}-{verify}")
            t, s = timed(lambda out=out, workers=workers, verify=verify: ingest({
                "input": folder, "output": out, "table": os.path.join(work, "prompts.csv"),
                "rows_per_shard": 100, "workers": workers, "verify": verify}))
            assert s.rows_written == n, s.line()
            print(f"folder  ingest {workers} worker(s) {verify:6s} {n / t:7.0f} rows/s "
                  f"({t_read / t:.2f}x raw read, {t_dec / t:.2f}x read+decode)")

        tars = os.path.join(work, "tars")
        os.makedirs(tars)
        import pyarrow as pa

        for k in range(0, n, 100):
            with tarfile.open(os.path.join(tars, f"{k // 100:05d}.tar"), "w") as tf:
                meta = []
                for i in range(k, min(n, k + 100)):
                    key = f"{k // 100:05d}{i:04d}"
                    for ext, data in ((names[i].rsplit(".", 1)[1], rows[i]["image"]),
                                      ("txt", rows[i]["prompt"].encode())):
                        info = tarfile.TarInfo(f"{key}.{ext}")
                        info.size = len(data)
                        tf.addfile(info, io.BytesIO(data))
                    meta.append({"key": key, "caption": rows[i]["prompt"], "status": "success"})
            pq.write_table(pa.Table.from_pylist(meta), os.path.join(tars, f"{k // 100:05d}.parquet"))

        def read_tars():
            for name in sorted(os.listdir(tars)):
                if name.endswith(".tar"):
                    with tarfile.open(os.path.join(tars, name), "r|") as tf:
                        for m in tf:
                            tf.extractfile(m).read()

        t_tread, _ = timed(read_tars)
        print(f"tars    raw stream read     {n / t_tread:9.0f} rows/s")
        for workers in (1, 2):
            out = os.path.join(work, f"tars-out-{workers}")
            t, s = timed(lambda out=out, workers=workers: ingest({"input": tars, "output": out,
                                                                 "workers": workers}))
            assert s.rows_written == n, s.line()
            print(f"tars    ingest {workers} worker(s) decode {n / t:7.0f} rows/s ({t_tread / t:.2f}x raw read, "
                  f"{t_dec / t:.2f}x folder read+decode)")

        shard = os.path.join(work, "out-1-decode")
        job_out = os.path.join(work, "scored")
        t_job, summary = timed(lambda: score({"input": shard, "output": job_out, "method": {"name": "fake"},
                                              "runner": {"kind": "local"}, "progress": False}))
        assert not summary.shards_failed
        table = pa.concat_tables([pq.read_table(os.path.join(shard, f)) for f in sorted(os.listdir(shard))
                                  if f.endswith(".parquet")])
        scorer = Scorer("fake")
        t_table, _ = timed(lambda: scorer.score_table(table))
        images, prompts = table.column("image").to_pylist(), table.column("prompt").to_pylist()
        t_calls, _ = timed(lambda: [scorer.score([im], [p]) for im, p in zip(images, prompts, strict=True)])
        print(f"fake method, {n} rows: job (local runner) {t_job * 1e3 / n:.2f} ms/row; "
              f"Scorer.score_table {t_table * 1e3 / n:.2f} ms/row ({t_job / t_table:.2f}x faster than the job); "
              f"Scorer.score one row per call {t_calls * 1e3 / n:.2f} ms/call "
              f"(+{(t_calls - t_table) * 1e3 / n:.2f} ms per call over the batched table)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
