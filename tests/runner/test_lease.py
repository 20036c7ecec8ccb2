"""One writer per output, with real processes: another job is refused, an identical one waits and
then does nothing twice, a dead holder's lease is taken over; on S3 (moto) the same by conditional
writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agiqa.errors import ConfigError
from tests.fixtures.state import state
from tests.runner.helpers import fake_config

ROOT = Path(__file__).resolve().parents[2]

JOB = textwrap.dedent("""
    import json, sys
    import agiqa.testing.fakes
    from agiqa.api import score
    from agiqa.errors import AgiqaError
    from tests.runner.helpers import fake_config
    cfg = fake_config(sys.argv[1], sys.argv[2], seconds_per_row=float(sys.argv[3]))
    if sys.argv[4] != "all":
        cfg = cfg.model_copy(update={"aspects": sys.argv[4].split(",")})
    try:
        s = score(cfg)
    except AgiqaError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps({"done": s.shards_done, "skipped": s.shards_skipped}))
""")


def _start(data, out, seconds_per_row=0.0, aspects="all"):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", JOB, str(data), str(out), str(seconds_per_row), aspects],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_lease(out, proc, timeout=60):
    t = time.time()
    while not (state(out) / "lease.json").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t < timeout
        time.sleep(0.05)


def test_a_job_with_other_settings_is_refused_while_one_holds_the_output(small_shards, tmp_path):
    out = tmp_path / "out"
    first = _start(small_shards, out, seconds_per_row=0.1)
    _wait_for_lease(out, first)
    other = _start(small_shards, out, aspects="quality")
    _, err = other.communicate(timeout=120)
    assert other.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert "is being written by another job with other settings" in err
    got, err = first.communicate(timeout=120)
    assert first.returncode == 0 and json.loads(got) == {"done": 4, "skipped": 0}, err
    assert not (state(out) / "lease.json").exists()  # released


def test_an_identical_job_waits_then_does_nothing_twice(small_shards, tmp_path):
    out = tmp_path / "out"
    first = _start(small_shards, out, seconds_per_row=0.1)
    _wait_for_lease(out, first)
    second = _start(small_shards, out, seconds_per_row=0.1)
    a, b = first.communicate(timeout=120), second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, (a[1], b[1])
    assert json.loads(a[0]) == {"done": 4, "skipped": 0} and json.loads(b[0]) == {"done": 0, "skipped": 4}
    assert "an identical job is writing it" in b[1]


def test_the_lease_of_a_dead_holder_is_taken_over(small_shards, tmp_path, caplog):
    import socket

    from agiqa.api import score

    out = tmp_path / "out"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lease = state(out) / "lease.json"
    lease.parent.mkdir(parents=True)
    lease.write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout), "identity": "another",
                                 "heartbeat": time.time(), "ttl_s": 60, "_version": 1}))
    assert score(fake_config(small_shards, out)).shards_done == 4
    assert "taking over the stale lease" in caplog.text and not lease.exists()


def test_on_s3_a_held_lease_refuses_another_job_by_conditional_write(moto_s3, small_shards, monkeypatch):
    from agiqa.api import score
    from agiqa.runner.lease import OutputLease
    from agiqa.storage import open_store

    for k, v in moto_s3.env().items():
        monkeypatch.setenv(k, v)
    bucket = moto_s3.make_bucket()
    out = f"s3://{bucket}/out"
    held = OutputLease(open_store(out), out, "someone else's job")
    held.acquire()
    try:
        rival = OutputLease(open_store(out), out, "mine")
        with pytest.raises(ConfigError, match="being written by another job with other settings"):
            rival.acquire()
        with pytest.raises(ConfigError, match="being written by another job"):
            score(fake_config(small_shards, out))
    finally:
        held.release()
    assert score(fake_config(small_shards, out)).shards_done == 4
