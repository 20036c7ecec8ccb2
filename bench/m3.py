"""M3-AGIQA's score stage on a model folder, set up, for the engine benchmarks."""

from __future__ import annotations


def m3_stage(model: str, **engine):
    """ScoreStage(M3Method) on `model` with these engine settings, engine loaded."""
    from agiqa.config import ScoreJobConfig
    from agiqa.stages.score import ScoreStage

    cfg = ScoreJobConfig(input="-", output="-", method={"name": "m3-agiqa", "engine": {"model": str(model), **engine}})
    stage = ScoreStage(cfg.method.build(tuple(cfg.aspects)))
    stage.setup()
    return stage
