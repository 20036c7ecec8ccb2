"""Whole M3-AGIQA jobs on the tiny model, as users run them: on a real local Ray, and killed then resumed.

The runner's own rules (faults, attempts, resume) are tested fast with FakeMethod in
test_local_runner.py and test_ray_runner.py; these check that the real method runs through it.
"""

import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from tests.fixtures.model import job_config
from tests.fixtures.state import state


def assert_every_row_once(data, out):
    for src in sorted(data.glob("*.parquet")):
        assert pq.read_table(out / src.name).column("id").to_pylist() == pq.read_table(src).column("id").to_pylist()


@pytest.mark.slow
def test_ray_job_scores_all_shards(ray_local, tiny_model_dir, demo_shards, tmp_path):
    from agiqa.api import score

    out = tmp_path / "out"
    summary = score(job_config(tiny_model_dir, str(demo_shards), str(out)))
    assert (summary.shards_done, summary.shards_failed, summary.rows_ok) == (3, 0, 24)
    assert summary.runner == "ray" and summary.actor_restarts == 0
    # the 2nd and 3rd shards were opened and their first batch decoded while the engine was busy
    assert summary.shards_prefetched == 2
    assert_every_row_once(demo_shards, out)
    assert (state(out) / "job_summary.json").is_file()
    got = pq.read_table(out / "part-00000.parquet")
    assert {"quality_score", "quality_rating", "quality_description", "status", "error"} <= set(got.column_names)


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["local", "ray"])
def test_killed_mid_job_then_rerun_scores_every_row_exactly_once(tiny_model_dir, tmp_path, runner):
    """SIGKILL the whole `agiqa score` (with its local Ray) after its first commit; the rerun redoes only the rest."""
    from agiqa.data.learnability import write_shards

    data, out = tmp_path / "data", tmp_path / "out"
    write_shards(str(data), rows=40, shards=5, seed=3, size=64)
    cmd = [sys.executable, "-m", "agiqa", "score", "--input", str(data), "--output", str(out), "--model",
           str(tiny_model_dir), "--runner", runner, "--max-new-tokens", "6", "--no-progress"]
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    deadline = time.time() + 300
    while not list((state(out) / "manifests").glob("*.manifest.json")):
        assert proc.poll() is None, "scorer exited before committing a shard"
        assert time.time() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    committed_before = len(list((state(out) / "manifests").glob("*.manifest.json")))
    assert committed_before < 5, "the kill came too late to test anything"

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"{committed_before} skipped" in res.stdout
    assert_every_row_once(data, out)
    leftovers = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [] or all(p.startswith(".") for p in leftovers)
    assert len(list(out.glob("*.parquet"))) == 5
