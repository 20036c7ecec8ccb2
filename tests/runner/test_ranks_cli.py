"""Two real drivers over one dataset, as a data team launches them: `agiqa score` and `agiqa filter`
with `--runner local --rank R --world-size 2`, started at once as separate processes. Every shard
is committed once, by one of them, and the outputs are byte for byte those of one driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.shards import write_shard
from tests.fixtures.state import state

ROOT = Path(__file__).resolve().parents[2]
#: The real CLI (`agiqa.cli.main`), with FakeMethod registered first (a test-only method).
CLI = "import sys, agiqa.testing.fakes; from agiqa.cli import main; sys.exit(main())"
NAMES = [f"s{k}.parquet" for k in range(6)]  # rank 0 of 2 runs five, rank 1 one (s3)


def start(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for k in ("AGIQA_RANK", "AGIQA_WORLD_SIZE"):
        env.pop(k, None)
    return subprocess.Popen([sys.executable, "-c", CLI, *map(str, args)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(*procs):
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    return outs


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def rank_summary(out, rank: int) -> dict:
    return json.loads((state(out) / f"job_summary.rank-{rank}-of-2.json").read_text())


@pytest.fixture
def six_shards(tmp_path):
    d = tmp_path / "in"
    for k, rel in enumerate(NAMES):
        write_shard(d / rel, [f"{rel}#{i}" for i in range(6)], [f"prompt {k}-{i}" for i in range(6)])
    return d


def test_two_score_drivers_commit_every_shard_once_and_write_what_one_driver_writes(six_shards, tmp_path):
    log = tmp_path / "scored-batches.log"  # FakeMethod appends each batch's first prompt (one batch a shard)
    yaml = tmp_path / "job.yaml"
    yaml.write_text(f"method: {{name: fake, seconds_per_row: 0.03, completion_log: {log}}}\n")
    ranks_out, one_out = tmp_path / "ranks", tmp_path / "one"
    common = ["score", "--config", yaml, "--input", six_shards, "--runner", "local", "--no-progress"]
    r0 = start(*common, "--output", ranks_out, "--rank", 0, "--world-size", 2)
    r1 = start(*common, "--output", ranks_out, "--rank", 1, "--world-size", 2)
    finish(r0, r1)
    batches = log.read_text().splitlines()
    assert sorted(batches) == [f"prompt {k}-0" for k in range(6)]  # each shard scored once, by one driver
    assert [rank_summary(ranks_out, r)["shards_done"] for r in (0, 1)] == [5, 1]
    for r in (0, 1):  # each rank's reduce ran after the barrier, over both ranks' rows
        assert rank_summary(ranks_out, r)["reduced"]["duplicate_ids"]["rows"] == 36
    manifests = sorted(p.name for p in (state(ranks_out) / "manifests").glob("*.manifest.json"))
    assert manifests == [f"{n}.manifest.json" for n in NAMES]
    merged = json.loads((state(ranks_out) / "job_summary.json").read_text())
    assert (merged["world_size"], merged["shards_total"], merged["shards_done"], merged["shards_failed"]) == (2, 6, 6, 0)
    assert merged["rows_by_status"] == {"ok": 36} and not list(state(ranks_out).glob("lease*.json"))

    log.unlink()
    finish(start(*common, "--output", one_out))
    assert len(log.read_text().splitlines()) == 6
    assert files(ranks_out) == files(one_out) and len(files(one_out)) == 6  # the same bytes, whatever N is
    single = json.loads((state(one_out) / "job_summary.json").read_text())
    assert single["reduced"] == merged["reduced"] and "world_size" not in single

    (state(ranks_out) / "job_summary.json").unlink()
    (again,) = finish(start("summary", ranks_out))  # any rank or user merges them again, once all are there
    assert f"merged the summaries of 2 ranks into {state(ranks_out) / 'job_summary.json'}" in again[0]
    assert "6 total: 6 done" in again[0] and json.loads((state(ranks_out) / "job_summary.json").read_text()) == merged
    (state(ranks_out) / "job_summary.rank-1-of-2.json").unlink()
    refused = start("summary", ranks_out)
    _, err = refused.communicate(timeout=120)
    assert refused.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert "rank(s) 1 of 2 have no summary" in err


def test_two_filter_drivers_with_a_top_fraction_keep_and_drop_what_one_driver_does(tmp_path):
    import numpy as np

    scored = tmp_path / "scored"
    rng = np.random.RandomState(3)
    for rel in NAMES:
        ids = [f"{rel}#{i}" for i in range(20)]
        write_shard(scored / rel, ids, quality_score=rng.rand(20).round(2).astype("float32") * 5,
                    status=["ok"] * 19 + ["error"])
    ranks_out, one_out = tmp_path / "ranks", tmp_path / "one"
    common = ["filter", "--input", scored, "--top-fraction", "quality_score=0.3", "--keep", "quality_score >= 1",
              "--runner", "local", "--no-progress"]
    finish(start(*common, "--output", ranks_out, "--rank", 0, "--world-size", 2),
           start(*common, "--output", ranks_out, "--rank", 1, "--world-size", 2))
    finish(start(*common, "--output", one_out))
    got, want = files(ranks_out), files(one_out)
    assert sorted(got) == sorted(want) == sorted([f"keep/{n}" for n in NAMES] + [f"drop/{n}" for n in NAMES])
    assert got == want  # keep/ and drop/, byte for byte
    single = json.loads((state(one_out) / "job_summary.json").read_text())
    assert 0 < single["reduced"]["stats"]["kept"] < 120
    for r in (0, 1):  # the stats reduce of each rank waited for the other's shards
        assert rank_summary(ranks_out, r)["reduced"] == single["reduced"]
    assert (state(ranks_out) / "stats.json").read_bytes() == (state(one_out) / "stats.json").read_bytes()
    merged = json.loads((state(ranks_out) / "job_summary.json").read_text())
    assert (merged["shards_done"], merged["reduced"]) == (single["shards_done"], single["reduced"])
    assert merged["rows_by_status"] == single["rows_by_status"]
