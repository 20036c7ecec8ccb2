"""Two CLI manners: a signal the parent ignores (`nohup`, a shell's `cmd &`) stays ignored for the whole
job, and a mistyped or abbreviated option is named as unknown (with the option it is close to), not
reported as a missing required one."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.fixtures.shards import write_shard
from tests.fixtures.state import state

ROOT = Path(__file__).parents[1]
#: `agiqa score` through the real CLI entry, with the test-only fake method registered first.
CLI = "import sys, agiqa.testing.fakes; from agiqa.cli import main; sys.exit(main(sys.argv[1:]))"


def test_handled_keeps_an_ignored_sigint_ignored_and_restores_it():
    from agiqa import signals

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with signals.handled():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is signals._handle
            signal.signal(signal.SIGINT, signal.default_int_handler)  # a library (ray.init) sets its own
            signals.reinstall()
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        with signals.handled():  # not ignored: routed as before
            pass
    finally:
        signal.signal(signal.SIGINT, before)
    with signals.handled():
        assert signal.getsignal(signal.SIGINT) is signals._handle


def test_a_background_job_ignoring_sigint_runs_through_a_sigint(tmp_path):
    """A job started with SIGINT ignored (as `cmd &` does) gets a SIGINT after its first commit and goes on."""
    import os

    data, out = tmp_path / "in", tmp_path / "out"
    for k in range(3):
        write_shard(data / f"s{k}.parquet", [f"s{k}#{i}" for i in range(4)])
    (tmp_path / "job.yaml").write_text("method: {name: fake, seconds_per_row: 0.15}\nread_batch_rows: 1\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", CLI, "score", "--config", str(tmp_path / "job.yaml"), "--input",
                             str(data), "--output", str(out), "--runner", "local", "--no-progress"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.time() + 60
    while not list((state(out) / "manifests").glob("*.manifest.json")):
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert "3 done" in stdout and "interrupted" not in err


def test_an_unknown_or_abbreviated_option_is_named_with_the_one_it_is_close_to():
    for argv, flag, near in ((["eval", "--scor", "x"], "--scor", "--scored"),
                             (["eval", "--scored", "x", "--lab=y"], "--lab", "--labels"),
                             (["eval", "--scored", "x", "--bogus"], "--bogus", None)):
        out = subprocess.run([sys.executable, "-m", "agiqa", *argv], capture_output=True, text=True, timeout=60)
        lines = [ln for ln in out.stderr.splitlines() if ln.startswith("agiqa ")]
        assert out.returncode == 2 and len(lines) == 1, out.stderr
        want = f"agiqa eval: error: unknown option {flag}" + (f" (did you mean {near}?)" if near else "")
        assert lines[0] == want and "required" not in out.stderr


def test_output_dot_resolves_and_the_first_log_line_says_where_the_state_goes(tmp_path):
    """`--output .` keeps the state in `../<name>.agiqa`: the job's first log line says so, as absolute paths."""
    import os

    data, out = tmp_path / "in", tmp_path / "here"
    write_shard(data / "s.parquet", ["a", "b"])
    out.mkdir()
    (tmp_path / "job.yaml").write_text("method: {name: fake}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", CLI, "score", "--config", "../job.yaml", "--input", "../in",
                          "--output", ".", "--runner", "local", "--no-progress"], cwd=out, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    logged = [ln for ln in res.stderr.splitlines() if " INFO " in ln]
    assert logged[0].endswith(f"INFO agiqa: job {data} -> {out} (its state: {tmp_path / 'here.agiqa'})"), logged[:3]
    assert (tmp_path / "here.agiqa" / "job_summary.json").is_file() and (out / "s.parquet").is_file()
