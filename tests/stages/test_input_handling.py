"""Heads imported from the reference score, by default, the inputs the reference gave them: the prompt as
given and its RGB decode; agiqa's own heads get agiqa's cleaned inputs; a setting the user made wins."""

import shutil

import pyarrow as pa
import pytest

from tests.fixtures.model import job_config


@pytest.fixture
def heads(tiny_model_dir, tmp_path):
    """Two copies of the tiny model's heads: agiqa's own, and the same marked as the reference importer marks them."""
    from agiqa.model.head_config import M3HeadConfig

    own, ref = tmp_path / "own", tmp_path / "ref"
    shutil.copytree(tiny_model_dir / "heads", own)
    shutil.copytree(tiny_model_dir / "heads", ref)
    for d in ref.iterdir():
        cfg = M3HeadConfig.load(d)
        cfg.notes = {**cfg.notes, "imported_from": "M3-AGIQA Lightning checkpoint"}
        cfg.save(d)
    return own, ref


def _prepared_prompt(tiny_model_dir, heads_dir, images=None):
    from agiqa.stages.score import ScoreStage

    cfg = job_config(tiny_model_dir, "-", "-", method={"heads": str(heads_dir)}, **({"images": images} if images else {}))
    stage = ScoreStage(cfg.method.build(tuple(cfg.aspects)), cfg.columns, cfg.images)
    from io import BytesIO

    from PIL import Image

    png = BytesIO()
    Image.new("RGB", (32, 32), "blue").save(png, "PNG")
    batch = pa.RecordBatch.from_pydict({"id": ["a"], "image": [png.getvalue()], "prompt": ["a  red\tcircle "]})
    return stage, stage.prepare(batch).prompts[0]


def test_reference_heads_get_the_reference_inputs_by_default(tiny_model_dir, heads):
    own, ref = heads
    stage, prompt = _prepared_prompt(tiny_model_dir, ref)
    assert prompt == "a  red\tcircle "  # exactly as given
    assert stage.limits.reference_rgb is True
    assert stage.input_handling.startswith("reference")
    assert stage.identity()["images"]["raw_prompts"] is True  # outputs say which handling made them
    stage, prompt = _prepared_prompt(tiny_model_dir, own)
    assert prompt == "a red circle"
    assert stage.input_handling.startswith("agiqa") and stage.limits.reference_rgb is False


def test_what_the_user_sets_wins(tiny_model_dir, heads):
    _, ref = heads
    stage, prompt = _prepared_prompt(tiny_model_dir, ref, images={"raw_prompts": False})
    assert prompt == "a red circle"
    assert stage.limits.reference_rgb is True  # the unset choice still follows the heads
    assert stage.input_handling.startswith("mixed")
