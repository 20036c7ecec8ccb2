"""The Ray runner with a real local Ray and the real M3 processor on the tiny model."""

import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
from fixtures_model import job_config


def assert_every_row_once(data, out):
    for src in sorted(data.glob("*.parquet")):
        assert pq.read_table(out / src.name).column("id").to_pylist() == pq.read_table(src).column("id").to_pylist()


def test_ray_job_scores_all_shards(ray_local, tiny_model_dir, demo_shards, tmp_path):
    from agiqa.orchestration.ray_driver import run_on_ray

    out = tmp_path / "out"
    summary = run_on_ray(job_config(tiny_model_dir, str(demo_shards), str(out)))
    assert (summary.shards_done, summary.shards_failed, summary.rows_ok) == (3, 0, 24)
    assert summary.runner == "ray" and summary.actor_restarts == 0
    # the 2nd and 3rd shards were opened and their first batch decoded while the engine was busy
    assert summary.shards_prefetched == 2
    assert_every_row_once(demo_shards, out)
    assert (out / "_agiqa_job_summary.json").is_file()


def test_actor_killed_mid_shard_job_still_completes(ray_local, tiny_model_dir, demo_shards, tmp_path, monkeypatch):
    from agiqa.orchestration.ray_driver import run_on_ray

    monkeypatch.setenv("AGIQA_TEST_CRASH_AT_BATCH", "2")  # second batch = middle of the first shard
    monkeypatch.setenv("AGIQA_TEST_CRASH_MARKER", str(tmp_path / "crashed"))
    out = tmp_path / "out"
    summary = run_on_ray(job_config(tiny_model_dir, str(demo_shards), str(out)))
    assert (tmp_path / "crashed").exists(), "the fault was not injected"
    assert summary.actor_restarts == 1
    assert (summary.shards_done, summary.shards_failed) == (3, 0)
    assert_every_row_once(demo_shards, out)


def test_shard_that_always_kills_its_actor_fails_after_n_attempts(ray_local, tiny_model_dir, demo_shards,
                                                                   tmp_path, monkeypatch):
    from agiqa.orchestration.ray_driver import run_on_ray

    monkeypatch.setenv("AGIQA_TEST_CRASH_SHARD", "part-00001.parquet")
    out = tmp_path / "out"
    cfg = job_config(tiny_model_dir, str(demo_shards), str(out), ray={"max_shard_attempts": 2})
    summary = run_on_ray(cfg)
    assert summary.shards_done == 2 and summary.shards_failed == 1
    assert summary.failed[0]["shard"] == "part-00001.parquet" and summary.failed[0]["attempts"] == 2
    assert "actor died" in summary.failed[0]["reason"]
    assert not (out / "part-00001.parquet").exists() and (out / "part-00000.parquet").exists()


def test_actor_dying_after_commit_counts_the_shard_done(ray_local, tiny_model_dir, demo_shards, tmp_path,
                                                         monkeypatch):
    """The reply of a committed shard is lost with its actor: the manifest says it is done."""
    from agiqa.orchestration.ray_driver import run_on_ray

    monkeypatch.setenv("AGIQA_TEST_CRASH_AFTER_COMMIT", "part-00000.parquet")
    out = tmp_path / "out"
    cfg = job_config(tiny_model_dir, str(demo_shards), str(out), ray={"max_shard_attempts": 2})
    summary = run_on_ray(cfg)
    assert summary.actor_restarts == 1
    assert (summary.shards_done, summary.shards_failed, summary.rows_ok) == (3, 0, 24)
    assert_every_row_once(demo_shards, out)


def test_driver_killed_mid_job_rerun_resumes(tiny_model_dir, tmp_path):
    """Kill the whole driver (and its local Ray) after one commit; the rerun redoes only the rest."""
    from agiqa.training.learnability import write_shards

    data, out = tmp_path / "data", tmp_path / "out"
    write_shards(str(data), rows=40, shards=5, seed=5, size=64)
    cmd = [sys.executable, "-m", "agiqa", "score", "--input", str(data), "--output", str(out), "--model",
           str(tiny_model_dir), "--max-new-tokens", "6", "--no-progress"]
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    deadline = time.time() + 300
    while not list(out.glob("*.manifest.json")):
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(out.glob("*.manifest.json")))
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"{done_before} skipped" in res.stdout
    assert_every_row_once(data, out)
