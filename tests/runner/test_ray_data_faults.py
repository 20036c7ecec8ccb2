"""`runner.kind: ray-data` when actors die, on a real local Ray started in a child process: a shard whose
actor dies once is retried and committed once; a shard that kills its actor every time fails after
`max_shard_attempts` while the shards beside it are not charged for it.

In a child process because inside pytest's process, a Ray Data execution that lost an actor after another
execution had run waited forever (even on a fresh `ray.init`); the same jobs in a plain process do not
(cause not found: the lead's note in the branch report)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, os, sys
from pathlib import Path
import ray
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
from agiqa.runner.run import run_job
from agiqa.workflows.score import build_score_job
from tests.runner.helpers import fake_config
from tests.runner.test_ray_runner import shards
out = {}
for name, attempts, extra in (("once", 3, {"die_marker": "died"}), ("always", 2, {})):
    t = Path(sys.argv[1]) / name
    t.mkdir()
    kw = {"die_on": "die", **{k: str(t / v) for k, v in extra.items()}}
    cfg = fake_config(shards(t, poison="die"), t / "out", runner="ray-data", **kw)
    cfg.runner.max_shard_attempts = attempts
    s = run_job(build_score_job(cfg))
    out[name] = {"done": s.shards_done, "failed": s.failed, "rows_ok": s.rows_ok}
print("RESULT " + json.dumps(out))
"""


def test_dead_actors_retried_and_charged_by_the_ledger(tmp_path):
    from tests.runner.test_ray_runner import assert_every_row_once

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    got = json.loads(lines[-1][len("RESULT "):])

    once = tmp_path / "once"
    assert (once / "died").exists(), "the fault was not injected"
    assert (got["once"]["done"], got["once"]["failed"], got["once"]["rows_ok"]) == (3, [], 24)
    assert_every_row_once(once / "in", once / "out")
    assert len(list((tmp_path / "once" / "out.agiqa").rglob("part-1.parquet.manifest.json"))) == 1

    always = got["always"]
    assert always["done"] == 2 and [f["shard"] for f in always["failed"]] == ["part-1.parquet"]
    assert always["failed"][0]["attempts"] == 2 and "actor died" in always["failed"][0]["reason"]
    assert not (tmp_path / "always" / "out" / "part-1.parquet").exists()
    assert pq.read_table(tmp_path / "always" / "out" / "part-0.parquet").num_rows == 8
