"""The no-description ablation: `method.describe: false` skips round 1 and scores an empty assistant turn."""

import pyarrow as pa
import torch

from agiqa.runner.engine_loop import run_sync
from tests.fixtures.model import job_config


def test_round_one_skipped_scores_the_empty_description(tiny_model_dir, demo_shards):
    import pyarrow.parquet as pq

    from agiqa.engines.base import ScoringRequest
    from agiqa.stages.score import ScoreStage

    batch = pq.read_table(sorted(demo_shards.glob("*.parquet"))[0]).slice(0, 3).to_batches()[0]
    cfg = job_config(tiny_model_dir, "-", "-", method={"describe": False})
    stage = ScoreStage(cfg.method.build(tuple(cfg.aspects)))
    stage.setup()
    m = stage.method
    out = pa.Table.from_batches([run_sync(stage.process(stage.prepare(batch)))]).to_pylist()
    assert [r["status"] for r in out] == ["ok"] * 3
    assert all(r[f"{a}_description"] == "" for r in out for a in ("quality", "authenticity"))
    # the score is the head over the conversation with an empty assistant turn
    prep = stage.prepare(batch)
    req = ScoringRequest("quality", prep.images[0], m.prompts.first_turn("quality", prep.prompts[0]), "",
                         m.prompts.second_turn("quality"))
    m.engine.project_with({})  # the reference: full-width states, through the head's own proj on the CPU
    want = m.heads["quality"].score(m.engine.hidden_states([req]))
    torch.testing.assert_close(torch.tensor(out[0]["quality_score"]), want[0].float(), rtol=1e-5, atol=1e-5)
    stage.teardown()
