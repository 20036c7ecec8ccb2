"""Ctrl-C and SIGTERM (Kubernetes, `ray job stop`) mid-job: one line, committed shards kept, exit 130 / 143,
and the same command run again finishes the rest. Real `agiqa score` processes on the tiny model."""

import re
import signal
import subprocess
import sys
import time

import pytest

from tests.fixtures.state import state


def start_score(demo_shards, model, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "agiqa", "score", "--input", str(demo_shards), "--output", str(out),
                             "--model", str(model), "--max-new-tokens", "6", "--batch-size", "2", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def committed(out) -> int:
    d = state(out) / "manifests"
    return len(list(d.glob("*.manifest.json"))) if d.is_dir() else 0


def interrupt_after_first_commit(proc, out, sig, limit_s=120):
    """Send `sig` once the first shard is committed; (exit code, stderr, seconds from the signal to the exit)."""
    t0 = time.monotonic()
    while committed(out) == 0:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() - t0 < limit_s, "no shard committed in time"
        time.sleep(0.2)
    proc.send_signal(sig)
    t_sig = time.monotonic()
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err, time.monotonic() - t_sig


def the_line(err: str, sig_name: str) -> tuple[int, int]:
    """The one line the CLI prints: (shards committed, shards in the pass)."""
    lines = [ln for ln in err.splitlines() if ln.startswith("agiqa ")]
    assert len(lines) == 1, err[-2000:]
    m = re.fullmatch(rf"agiqa score: interrupted by {sig_name}: (\d+) of (\d+) shard\(s\) committed and kept in "
                     r"\S+; (run the same command again to do the other \d+ \(committed shards are skipped\)|"
                     r"nothing is left to do: .*)", lines[0])
    assert m, lines[0]
    assert "Traceback" not in err and "core dumped" not in err.lower() and "SIGABRT" not in err
    return int(m.group(1)), int(m.group(2))


def test_sigterm_on_the_local_runner_keeps_commits_and_a_rerun_finishes(demo_shards, tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    rc, err, seconds = interrupt_after_first_commit(start_score(demo_shards, tiny_model_dir, out, "--runner", "local"),
                                                    out, signal.SIGTERM)
    assert rc == 143, err[-2000:]
    kept, total = the_line(err, "SIGTERM")
    assert total == 3 and kept == committed(out) >= 1 and seconds < 30
    assert not [f for f in out.rglob("*") if f.is_file() and ".tmp" in f.name]  # the shard in flight left nothing
    again = start_score(demo_shards, tiny_model_dir, out, "--runner", "local")
    stdout, err = again.communicate(timeout=180)
    assert again.returncode == 0, err[-2000:]
    assert f"{3 - kept} done, {kept} skipped (already committed)" in stdout and committed(out) == 3


def test_ctrl_c_on_the_local_runner_is_one_line_and_exit_130(demo_shards, tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    rc, err, seconds = interrupt_after_first_commit(start_score(demo_shards, tiny_model_dir, out, "--runner", "local"),
                                                    out, signal.SIGINT)
    assert rc == 130, err[-2000:]
    kept, total = the_line(err, "SIGINT")
    assert total == 3 and kept == committed(out) >= 1 and seconds < 30


@pytest.mark.slow
def test_sigterm_on_the_ray_runner_stops_cleanly(demo_shards, tiny_model_dir, tmp_path):
    """`ray.init` installs a SIGTERM handler that calls sys.exit under Ray's threads (SIGABRT, a native crash
    dump); agiqa puts its own back, so the driver stops its actors and exits 143 like on the local runner."""
    out = tmp_path / "out"
    rc, err, seconds = interrupt_after_first_commit(start_score(demo_shards, tiny_model_dir, out, "--num-actors", "1"),
                                                    out, signal.SIGTERM, limit_s=150)
    assert rc == 143, err[-3000:]
    kept, total = the_line(err, "SIGTERM")
    assert total == 3 and kept == committed(out) >= 1 and seconds < 30
    assert "Fatal Python error" not in err and "*** SIG" not in err
