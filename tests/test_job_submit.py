"""End to end as a user runs it on a cluster: `ray start --head`, `ray job submit jobs/score.py`.

Starts its own head on 127.0.0.1 with its own temp dir and stops only that head (by the PIDs of
processes under that temp dir): `ray stop` would kill every Ray of the user.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.fixtures.s3 import free_ports

REPO = Path(__file__).resolve().parents[1]


def ray_bin() -> str:
    return str(Path(sys.executable).with_name("ray"))


@pytest.fixture
def ray_head():
    temp = tempfile.mkdtemp(prefix="agiqa-ray-", dir="/tmp")
    gcs, dash, client = free_ports(3)
    # Ray >= 2.59 enables token auth for local clusters: give head and client the same token.
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    env.pop("RAY_ADDRESS", None)
    subprocess.run([ray_bin(), "start", "--head", f"--port={gcs}", "--node-ip-address=127.0.0.1",
                    "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}", f"--ray-client-server-port={client}",
                    "--num-cpus=2", f"--temp-dir={temp}", "--include-dashboard=true", "--disable-usage-stats"],
                   check=True, env=env, capture_output=True, timeout=120)
    yield f"http://127.0.0.1:{dash}", env
    for pid in _pids_under(temp):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(temp, ignore_errors=True)


def _pids_under(temp: str) -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if temp.encode() in (p / "cmdline").read_bytes():
                    pids.append(int(p.name))
            except OSError:
                pass
    return pids


def test_ray_job_submit_scores_shards(ray_head, tiny_model_dir, demo_shards, tmp_path):
    address, env = ray_head
    out = tmp_path / "out"
    cfg = tmp_path / "job.yaml"
    cfg.write_text(f"input: {demo_shards}\noutput: {out}\nprogress: false\n"
                   f"method: {{name: m3-agiqa, engine: {{model: {tiny_model_dir}, max_new_tokens: 6}}}}\n")
    deadline = time.time() + 60
    while True:  # the dashboard's job API comes up a little after `ray start` returns
        ok = subprocess.run([ray_bin(), "job", "list", "--address", address], capture_output=True, env=env)
        if ok.returncode == 0 or time.time() > deadline:
            break
        time.sleep(1)
    deadline = time.time() + 240  # the job agent registers a little after the dashboard answers (later when busy)
    while True:
        res = subprocess.run(
            [ray_bin(), "job", "submit", "--address", address, "--working-dir", str(REPO), "--",
             sys.executable, "jobs/score.py", "--config", str(cfg)],
            capture_output=True, text=True, env=env, timeout=600)
        if "No available agent" not in res.stderr or time.time() > deadline:
            break
        time.sleep(2)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "3 done" in res.stdout and "succeeded" in res.stdout
    for src in sorted(demo_shards.glob("*.parquet")):
        assert pq.read_table(out / src.name).column("id").to_pylist() == pq.read_table(src).column("id").to_pylist()
