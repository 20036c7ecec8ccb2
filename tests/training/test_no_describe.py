"""The no-description ablation: `engine.describe: false` skips round 1 and scores an empty assistant turn."""

import pyarrow as pa
import torch
from fixtures_model import job_config


def test_round_one_skipped_scores_the_empty_description(tiny_model_dir, demo_shards):
    import pyarrow.parquet as pq

    from agiqa.engines.base import ScoringRequest
    from agiqa.pipeline.factory import build_processor

    batch = pq.read_table(sorted(demo_shards.glob("*.parquet"))[0]).slice(0, 3).to_batches()[0]
    proc = build_processor(job_config(tiny_model_dir, "-", "-", engine={"describe": False}))
    out = pa.Table.from_batches([proc.process(proc.prepare(batch))]).to_pylist()
    assert [r["status"] for r in out] == ["ok"] * 3
    assert all(r[f"{a}_description"] == "" for r in out for a in ("quality", "authenticity"))
    # the score is the head over the conversation with an empty assistant turn
    prep = proc.prepare(batch)
    req = ScoringRequest("quality", prep.images[0], proc.prompts.first_turn("quality", prep.prompts[0]), "",
                         proc.prompts.second_turn("quality"))
    want = proc.heads["quality"].score(proc.engine.hidden_states([req]))
    torch.testing.assert_close(torch.tensor(out[0]["quality_score"]), want[0].float(), rtol=1e-5, atol=1e-5)
