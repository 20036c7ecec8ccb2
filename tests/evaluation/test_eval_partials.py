"""`agiqa eval` as a partial pass: per shard the (score, mos) pairs and their moments, merged by a
reduce. The reference is scipy over the rows read and filtered here (not the code under test), and
the row-wise `evaluate()` the command used before."""

import math
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from agiqa.errors import DataError, UserError
from agiqa.workflows.eval import run_eval
from tests.fixtures.state import state

SCHEMA = pa.schema([("id", pa.int64()), ("status", pa.string()), ("quality_score", pa.float32()),
                    ("quality_mos", pa.float64()), ("authenticity_score", pa.float32())])
SIZES = {"a.parquet": 300, "b/c.parquet": 0, "d.parquet": 1, "e.parquet": 700}


def write(root, seed=0, offset=1000.0):
    """Scores far from zero (`offset`): raw sums of squares would cancel; the merge must not."""
    rng, at = random.Random(seed), 0
    for rel, n in SIZES.items():
        rows = []
        for i in range(at, at + n):
            mos = rng.uniform(0, 5)
            status = rng.choice(["ok"] * 8 + ["partial", "error"])
            q = None if status == "error" or rng.random() < 0.03 else offset + mos + rng.gauss(0, 0.7)
            q = round(q, 1) if q is not None and i % 3 == 0 else q  # ties in the ranks
            rows.append({"id": i, "status": status, "quality_score": q,
                         "quality_mos": None if rng.random() < 0.05 else round(mos, 2),
                         "authenticity_score": rng.uniform(0, 5)})
        at += n
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), root / rel)
    return root


def brute_force(root):
    t = pa.concat_tables(pq.read_table(root / rel) for rel in sorted(SIZES)).to_pylist()
    pairs = [(float(np.float32(r["quality_score"])), r["quality_mos"]) for r in t
             if r["status"] in ("ok", "partial") and r["quality_score"] is not None and r["quality_mos"] is not None]
    return np.array([p for p, _ in pairs]), np.array([y for _, y in pairs]), len(t)


def test_metrics_equal_scipy_over_the_concatenated_rows_and_a_rerun_reads_none(tmp_path):
    data = write(tmp_path / "scored")
    out = run_eval(str(data))
    m = out["metrics"]["quality"]
    pred, y, rows = brute_force(data)
    assert m["n"] == len(pred) > 800 and m["rows_left_out"] == rows - len(pred)
    assert m["srcc"] == float(stats.spearmanr(pred, y).statistic)
    assert m["krcc"] == float(stats.kendalltau(pred, y).statistic)
    assert abs(m["plcc"] - float(stats.pearsonr(pred, y).statistic)) < 1e-12
    assert m["rmse"] == float(np.sqrt(np.mean((pred - y) ** 2)))
    assert out["metrics"]["authenticity"]["n"] == 0  # no label column for it: every row left out
    assert out["passes"][0]["shards_done"] == len(SIZES)
    assert (state(data) / "partials" / "eval" / "e.parquet").exists()

    again = run_eval(str(data))
    assert [(p["shards_done"], p["shards_skipped"]) for p in again["passes"]] == [(0, len(SIZES))]
    assert again["metrics"]["quality"]["srcc"] == m["srcc"] and again["metrics"]["quality"]["plcc"] == m["plcc"]


def test_labels_joined_on_the_id_equal_the_row_wise_evaluation(tmp_path):
    from agiqa.data.rows import read_rows
    from agiqa.evaluation.evaluate import evaluate

    data = write(tmp_path / "scored", seed=3, offset=0.0)
    no_mos = tmp_path / "scored-only"
    for rel in SIZES:
        (no_mos / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pq.read_table(data / rel).drop_columns(["quality_mos"]), no_mos / rel)
    labels = tmp_path / "labels"
    labels.mkdir()
    full = pa.concat_tables(pq.read_table(data / rel) for rel in sorted(SIZES)).select(["id", "quality_mos"])
    dup = pa.table({"id": pa.array([5, 5], pa.int64()), "quality_mos": [0.0, 4.9]})  # the last one wins
    pq.write_table(pa.concat_tables([full, dup]), labels / "l.parquet")
    got = run_eval(str(no_mos), str(labels), partials=str(tmp_path / "p"))["metrics"]["quality"]
    want = evaluate(read_rows(str(no_mos)), read_rows(str(labels)))["quality"]
    assert {k: got[k] for k in ("n", "rows_left_out", "srcc", "krcc", "rmse")} == {
        k: want[k] for k in ("n", "rows_left_out", "srcc", "krcc", "rmse")}
    assert abs(got["plcc"] - want["plcc"]) < 1e-12
    assert not math.isnan(got["plcc_logistic5"])
    with pytest.raises(UserError, match="no 'id' matches"):
        pq.write_table(pa.table({"id": pa.array([10**9], pa.int64()), "quality_mos": [1.0]}), labels / "l.parquet")
        run_eval(str(no_mos), str(labels), partials=str(tmp_path / "p"))


def test_a_shard_without_a_committed_partial_fails_the_eval_naming_it(tmp_path):
    data = write(tmp_path / "scored")
    (data / "z.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"z\.parquet.*no committed eval partial"):
        run_eval(str(data))


def test_labels_that_are_not_numbers_are_refused_in_one_line(tmp_path):
    data = write(tmp_path / "scored")
    (tmp_path / "labels").mkdir()
    pq.write_table(pa.table({"id": [1, 2], "quality_mos": ["good", "bad"]}), tmp_path / "labels" / "l.parquet")
    with pytest.raises(DataError, match="l.parquet: the <aspect>_mos columns must be numbers"):
        run_eval(str(data), str(tmp_path / "labels"), partials=str(tmp_path / "p"))
    assert not (tmp_path / "p").exists()


def test_the_cli_reruns_from_its_partials_and_prints_the_same_table(tmp_path):
    import subprocess
    import sys

    data = write(tmp_path / "scored", seed=5)
    cmd = [sys.executable, "-m", "agiqa", "eval", "--scored", str(data), "--partials", str(tmp_path / "p")]
    first = subprocess.run(cmd, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    manifests = sorted((tmp_path / "p.agiqa" / "manifests").rglob("*.manifest.json"))
    assert len(manifests) == len(SIZES)
    stamps = [m.stat().st_mtime_ns for m in manifests]
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == first.stdout and "quality" in first.stdout
    assert [m.stat().st_mtime_ns for m in manifests] == stamps  # nothing recomputed
