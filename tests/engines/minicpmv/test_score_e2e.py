"""M3-AGIQA on the tiny MiniCPM-V 2.5 end to end: `agiqa score` with the local runner, round 1 on; and the
paper's evaluation protocol (`--descriptions-from`): round 1 skipped, the given descriptions scored raw."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from agiqa.runner.engine_loop import run_sync
from tests.fixtures.shards import png, write_shard


def test_agiqa_score_on_minicpmv_with_the_local_runner(tiny_minicpmv_dir, tmp_path):
    write_shard(tmp_path / "in" / "a.parquet", ["r0", "r1"], images=[png(1, 40, 60), png(2, 50, 30)])
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "agiqa", "score", "--input", str(tmp_path / "in"), "--output",
                          str(tmp_path / "out"), "--model", str(tiny_minicpmv_dir), "--runner", "local",
                          "--no-progress", "--aspects", "quality,authenticity", "--max-new-tokens", "3"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = pq.read_table(tmp_path / "out" / "a.parquet").to_pylist()
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert all(0 <= r["quality_score"] <= 5 and r["quality_description"] is not None for r in rows)


@pytest.fixture(scope="module")
def given_stage(tiny_minicpmv_dir):
    from agiqa.stages.score import ScoreStage
    from tests.fixtures.model import job_config

    cfg = job_config(tiny_minicpmv_dir, "-", "-", aspects=["quality", "authenticity"],
                     method={"descriptions_from": "response_0", "clamp": False})
    stage = ScoreStage(cfg.method.build(tuple(cfg.aspects)))
    stage.setup()
    yield stage
    stage.teardown()


def test_given_descriptions_skip_round_one_and_are_scored_raw(given_stage, monkeypatch):
    from agiqa.engines.base import ScoringRequest

    m = given_stage.method
    assert "response_0" in given_stage.required_columns

    def never(_):
        raise AssertionError("round 1 ran although descriptions were given")

    monkeypatch.setattr(m.engine, "describe", never)
    descs = ["it is a sharp picture", "blurry and noisy"]
    batch = pa.RecordBatch.from_pydict({"id": ["a", "b"], "image": [png(3, 30, 30), png(4, 20, 50)],
                                        "prompt": ["a red circle", "two stars"], "response_0": descs})
    rows = pa.Table.from_batches([run_sync(given_stage.process(given_stage.prepare(batch)))]).to_pylist()
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert [r["quality_description"] for r in rows] == descs
    prep = given_stage.prepare(batch)
    m.engine.project_with({})  # the reference: full-width states, through the head's own proj on the CPU
    for i, r in enumerate(rows):
        req = ScoringRequest("quality", prep.images[i], m.prompts.first_turn("quality", prep.prompts[i]), descs[i],
                             m.prompts.second_turn("quality"))
        head = m.heads["quality"]
        hidden = m.engine.hidden_states([req])[0].clone()
        with torch.no_grad():
            raw = head(hidden[None], torch.ones(1, hidden.shape[0], dtype=torch.long))[0].item()  # no clamp
        assert abs(r["quality_score"] - raw) < 1e-4
    m.engine.project_with(m.head_files())  # as setup left it, for the module's other tests
    assert any(not 0 <= r[f"{a}_score"] <= 5 for r in rows for a in ("quality", "authenticity"))  # unclamped


def test_a_row_without_a_given_description_is_marked_not_described(given_stage):
    batch = pa.RecordBatch.from_pydict({"id": ["a", "b"], "image": [png(5), png(6)], "prompt": ["x", "y"],
                                        "response_0": ["fine", None]})
    rows = pa.Table.from_batches([run_sync(given_stage.process(given_stage.prepare(batch)))]).to_pylist()
    assert [r["status"] for r in rows] == ["ok", "error"]
    assert "no description in column 'response_0'" in rows[1]["error"]


def test_descriptions_from_and_no_describe_are_refused_together(tiny_minicpmv_dir):
    from pydantic import ValidationError

    from tests.fixtures.model import job_config

    with pytest.raises(ValidationError, match="exclude each other"):
        job_config(tiny_minicpmv_dir, "-", "-", method={"descriptions_from": "response_0", "describe": False})
