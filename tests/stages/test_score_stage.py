"""ScoreStage's row work, the same for every method: columns, ratings from the method's spec, isolation."""

import pyarrow as pa
import pytest

from agiqa.aspects import ScoreSpec
from agiqa.runner.engine_loop import run_sync
from agiqa.stages.score import ScoreStage
from agiqa.testing.fakes import FakeConfig, FakeMethod
from tests.fixtures.shards import png


def batch(prompts, images=None):
    images = images or [png(i) for i in range(len(prompts))]
    return pa.RecordBatch.from_pydict({"id": list(range(len(prompts))), "image": images, "prompt": prompts})


def test_columns_in_order_with_the_methods_extras_and_ratings_from_its_spec():
    method = FakeMethod(aspects=("quality", "authenticity"))
    method.spec = ScoreSpec(low=0.0, high=10.0)  # a method on 0-10: 5.0 is "fair", not "excellent"
    stage = ScoreStage(method)
    assert [f.name for f in stage.output_fields()] == [
        "quality_score", "quality_rating", "authenticity_score", "authenticity_rating", "fake_note", "status", "error_code", "error"]
    out = run_sync(stage.process(stage.prepare(batch(["a", "bb"])))).to_pydict()
    for s, r in zip(out["quality_score"], out["quality_rating"], strict=True):
        assert r == ScoreSpec(0.0, 10.0).rating(s)
    assert ScoreSpec(0.0, 10.0).rating(5.0) == "fair" and ScoreSpec(0.0, 1.0, higher_is_better=False).rating(0.05) == "excellent"
    assert out["fake_note"] == ["1 chars", "2 chars"] and out["status"] == ["ok", "ok"]


def test_the_method_sees_only_good_rows_and_refused_rows_are_isolated():
    method = FakeMethod(FakeConfig(refuse="no"))
    stage = ScoreStage(method)
    out = run_sync(stage.process(stage.prepare(batch(["fine", "say no", "ok", "ok"], [png(0), png(1), None, b"xx"]))))
    out = out.to_pydict()
    assert out["status"] == ["ok", "error", "error", "error"]
    assert "fake refusal" in out["error"][1] and "image is null" in out["error"][2] and "decoded" in out["error"][3]
    assert out["error_code"] == [None, "method_failed", "image_null", "image_undecodable"]
    assert "0x" not in out["error"][3]  # no object reprs: equal causes read equal
    assert out["quality_score"][0] is not None and out["quality_rating"][1] is None
    assert method.calls == 3  # the batch of 2 good rows, then each alone


def test_a_row_without_a_prompt_is_scored_on_the_aspects_that_do_not_need_one():
    stage = ScoreStage(FakeMethod())
    out = run_sync(stage.process(stage.prepare(batch(["a prompt", None, "  "])))).to_pydict()
    assert out["status"] == ["ok", "partial", "partial"]
    assert out["correspondence_score"][1:] == [None, None] and None not in out["quality_score"]
    assert out["error_code"][1:] == ["prompt_null", "prompt_empty"]
    assert out["error"][2] == "correspondence not scored: prompt is empty"
    only = ScoreStage(FakeMethod(aspects=("correspondence",)))  # nothing to score without the prompt
    assert run_sync(only.process(only.prepare(batch([None])))).to_pydict()["status"] == ["error"]


def test_a_method_failing_every_row_fails_the_batch():
    stage = ScoreStage(FakeMethod(FakeConfig(refuse="x")))
    with pytest.raises(RuntimeError, match="fake refusal"):
        run_sync(stage.process(stage.prepare(batch(["x1", "x2"]))))


def test_keep_image_keeps_the_column_and_resources_default_to_the_methods():
    from agiqa.resources import Resources

    method = FakeMethod()
    method.resources = Resources(num_gpus=0.25)
    stage = ScoreStage(method, keep_image=True)
    assert stage.drop_columns == () and stage.resources.num_gpus == 0.25
    assert ScoreStage(FakeMethod()).drop_columns == ("image",)


def test_a_bounded_method_returning_scores_off_its_range_fails_its_rows_with_the_reason():
    from agiqa.aspects import MOS_SPEC

    method = FakeMethod(FakeConfig(shift=10.0), aspects=("quality",))
    assert not method.spec.bounded  # a shifted fake says so ...
    out = run_sync(ScoreStage(method).process(ScoreStage(method).prepare(batch(["a"])))).to_pydict()
    assert out["status"] == ["ok"] and out["quality_score"][0] > 5
    method.spec = MOS_SPEC  # ... one that claims 0-5 and returns 10+ is caught, never written
    stage = ScoreStage(method)
    out = run_sync(stage.process(stage.prepare(batch(["a"])))).to_pydict()
    assert out["status"] == ["error"] and out["quality_score"] == [None]
    assert "outside its declared range [0, 5]" in out["error"][0]


def test_the_stage_is_named_at_construction_and_the_name_is_in_its_identity():
    """A cascade's cheap pass is a `ScoreStage` named "prefilter" when built, not renamed afterwards."""
    stage = ScoreStage(FakeMethod(), name="prefilter")
    assert stage.name == "prefilter" and stage.identity()["stage"] == "prefilter"
    assert ScoreStage(FakeMethod()).name == "score"
