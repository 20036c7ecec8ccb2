"""`kill -9` of a job mid-shard leaves no temp file inside its output: readers pointed at OUT work right
after the kill and after the rerun, and the rerun removes what the dead process left in the state root.

Before: the shard in flight left `OUT/.<shard>.<random>.tmp`, which polars' `read_parquet(OUT)` refuses
(mixed extensions) and DuckDB's `read_parquet('OUT/**')` fails on (not Parquet), and no rerun removed it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agiqa.storage.staging import this_host
from tests.fixtures.shards import write_shard
from tests.fixtures.state import state

duckdb = pytest.importorskip("duckdb")
polars = pytest.importorskip("polars")

ROWS, SHARDS = 6, 4
JOB = """
import sys
import agiqa.testing.fakes
from agiqa.api import score
from tests.runner.helpers import fake_config
score(fake_config(sys.argv[1], sys.argv[2], read_batch_rows=1, seconds_per_row=0.4))
"""


def _rows_read_by_every_reader(out: Path) -> set[int]:
    import pyarrow.dataset as pads

    return {pads.dataset(str(out), format="parquet").count_rows(), polars.read_parquet(str(out)).height,
            duckdb.connect().execute(f"select count(*) from read_parquet('{out}/**')").fetchone()[0]}


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.tmp")] if folder.is_dir() else []


def test_sigkill_mid_shard_leaves_readers_working_and_the_rerun_leaves_no_temp(tmp_path):
    from agiqa.api import score
    from tests.runner.helpers import fake_config

    data, out = tmp_path / "in", tmp_path / "out"
    for k in range(SHARDS):
        write_shard(data / f"s{k}.parquet", [f"s{k}#{i}" for i in range(ROWS)])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", JOB, str(data), str(out)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    # kill once a shard is committed and the next one is being written (its temp file exists)
    while not (list((state(out) / "manifests").glob("*.manifest.json")) and (_temps(out) or _temps(state(out) / "tmp"))):
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline, "no shard committed in time"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    committed = len(list((state(out) / "manifests").glob("*.manifest.json")))
    assert 1 <= committed < SHARDS, "the kill came too late to test anything"

    assert _temps(out) == []
    left = _temps(state(out) / "tmp")
    assert left and all(p.name.startswith(f"{this_host()}~{proc.pid}~") for p in left)  # the dead writer's
    assert _rows_read_by_every_reader(out) == {committed * ROWS}  # right after the kill: the committed rows

    summary = score(fake_config(data, out))
    assert (summary.shards_skipped, summary.shards_done) == (committed, SHARDS - committed)
    assert _temps(out) == [] and _temps(state(out) / "tmp") == []
    assert _rows_read_by_every_reader(out) == {SHARDS * ROWS}


def test_planning_removes_only_temps_of_dead_processes_of_this_host(tmp_path, small_shards):
    from agiqa.api import score
    from tests.runner.helpers import fake_config

    out = tmp_path / "out"
    score(fake_config(small_shards, out))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host, tdir = this_host(), state(out) / "tmp"
    files = {
        "dead here": tdir / f"{host}~{dead.pid}~a.parquet.x1y2z3w4.tmp",
        "dead here, beside its shard (an output on another filesystem)": out / f".{host}~{dead.pid}~b.parquet.abcdefgh.tmp",
        "agiqa before the owner rule": out / "sub" / ".c.parquet.k2j3h4g5.tmp",
        "alive here": tdir / f"{host}~{os.getpid()}~a.parquet.q1w2e3r4.tmp",
        "dead pid, other host": tdir / f"other-host~{dead.pid}~a.parquet.zxcvbnm1.tmp",
        "not a temp file of agiqa's": out / "sub" / "notes.tmp",
    }
    for p in files.values():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"partial")
    score(fake_config(small_shards, out))  # everything skipped; planning cleans
    assert {k for k, p in files.items() if p.exists()} == {"alive here", "dead pid, other host",
                                                              "not a temp file of agiqa's"}


def test_ingest_removes_what_a_killed_ingest_left(tmp_path):
    from agiqa.cli import main
    from tests.fixtures.shards import png

    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    for i in range(3):
        (images / f"img{i}.png").write_bytes(png(i, 12, 10))
        (images / f"img{i}.txt").write_text(f"a cat, no. {i}")
    assert main(["ingest", "--input", str(images), "--output", str(out)]) == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = [state(out) / "tmp" / f"{this_host()}~{dead.pid}~part.parquet.a1b2c3d4.tmp", out / ".part.parquet.a1b2c3d4.tmp"]
    for p in left:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"partial")
    assert main(["ingest", "--input", str(images), "--output", str(out)]) == 0
    assert [p for p in left if p.exists()] == []
