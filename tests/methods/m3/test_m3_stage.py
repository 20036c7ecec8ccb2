"""M3-AGIQA through the score stage on the tiny model: batching invariance, bad rows, engine refusals."""

import numpy as np
import pyarrow as pa
import pytest

from agiqa.aspects import ASPECTS
from agiqa.runner.engine_loop import run_sync
from tests.fixtures.model import m3_stage
from tests.fixtures.shards import png


@pytest.fixture(scope="module")
def stage(tiny_model_dir):
    s = m3_stage(tiny_model_dir, max_new_tokens=12)
    with __import__("torch").no_grad():  # keep scores away from the clamp so comparisons mean something
        for head in s.method.heads.values():
            head.fc[2].bias.fill_(2.5)
    yield s
    s.teardown()


def run(stage, ids, images, prompts):
    batch = pa.RecordBatch.from_pydict({"id": ids, "image": images, "prompt": prompts})
    return run_sync(stage.process(stage.prepare(batch))).to_pydict()


def test_batched_equals_one_row_at_a_time(stage):
    sizes = [(56, 56), (120, 64), (90, 200), (64, 150)]
    images = [png(i, h, w) for i, (h, w) in enumerate(sizes)]
    prompts = ["a red circle", "two blue squares on a white background", "a cat", "three yellow stars"]
    batched = run(stage, list(range(4)), images, prompts)
    singles = [run(stage, [i], [images[i]], [prompts[i]]) for i in range(4)]
    for a in ASPECTS:
        b = batched[f"{a}_score"]
        s = [x[f"{a}_score"][0] for x in singles]
        assert all(0.0 < v < 5.0 for v in b), b
        np.testing.assert_allclose(b, s, rtol=1e-5, atol=1e-5)
        assert batched[f"{a}_description"] == [x[f"{a}_description"][0] for x in singles]
    assert batched["status"] == ["ok"] * 4
    # aspects use different adapters and heads
    assert batched["quality_score"] != batched["correspondence_score"]


def test_bad_images_are_marked_and_the_rest_scored(stage):
    good = png(7, 64, 64)
    images = [good, b"\x89PNG\r\n\x1a\n broken", b"", None, good[: len(good) // 2], good]
    prompts = ["a red circle"] * 4 + ["a red circle", None]
    out = run(stage, list(range(6)), images, prompts)
    assert out["status"] == ["ok", "error", "error", "error", "error", "partial"]
    assert "cannot be decoded" in out["error"][1]
    assert "empty" in out["error"][2]
    assert "null" in out["error"][3]
    assert out["error"][4]  # truncated PNG
    # no prompt: quality and authenticity scored, correspondence null with the reason
    assert out["error"][5] == "correspondence not scored: prompt is null" and out["error_code"][5] == "prompt_null"
    assert out["correspondence_score"][5] is None and out["quality_score"][5] is not None
    assert out["authenticity_rating"][5] is not None
    assert out["quality_score"][0] is not None and out["quality_score"][1] is None
    assert out["quality_rating"][0] in ("bad", "poor", "fair", "good", "excellent")


def test_row_the_engine_cannot_take_is_isolated(stage, monkeypatch):
    """One row failing inside the engine becomes an error row; the others are scored."""
    images = [png(1, 64, 64), png(2, 70, 70), png(3, 80, 80)]
    real = stage.method.engine.hidden_states

    def flaky(reqs):
        if any(r.image.size == (70, 70) for r in reqs):
            raise RuntimeError("simulated engine refusal")
        return real(reqs)

    monkeypatch.setattr(stage.method.engine, "hidden_states", flaky)
    out = run(stage, [0, 1, 2], images, ["a", "b", "c"])
    assert out["status"] == ["ok", "error", "ok"]
    assert "simulated engine refusal" in out["error"][1]


def test_valid_rows_the_model_could_not_take_as_given_are_fitted_and_scored(stage):
    """A prompt far longer than the context, and a 1x4000 strip: scored, with what was changed said."""
    import io

    from PIL import Image

    long_prompt = ", ".join(f"masterpiece {i}, best quality, ultra detailed, 8k, trending on artstation"
                            for i in range(60))
    buf = io.BytesIO()
    Image.new("RGB", (4000, 1), (200, 10, 10)).save(buf, "PNG")
    out = run(stage, [0, 1, 2], [png(1, 64, 64), buf.getvalue(), png(2, 64, 64)], [long_prompt, "a red line", "ok"])
    assert out["status"] == ["ok", "ok", "ok"], out["error"]
    assert all(s is not None for a in ASPECTS for s in out[f"{a}_score"])
    assert "prompt cut by" in out["m3_note"][0] and "max_length" in out["m3_note"][0]
    assert "padded from 4000x1" in out["m3_note"][1]
    assert out["m3_note"][2] is None
