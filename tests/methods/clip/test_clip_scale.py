"""CLIP-AGIQA's scores stay on the 0-5 range it declares, unless `clamp: false` declares them unbounded.

The heads are moved off the scale on purpose (the last layer's bias shifted), so a missing clamp shows.
"""

import shutil

import pyarrow.parquet as pq
import pytest

from tests.methods.clip.test_clip_method import clip_config, explicit_scores


def shifted_heads(clip_dir, tmp_path, bias: float):
    """A copy of the tiny CLIP whose heads all output their usual value + `bias`."""
    from safetensors.torch import load_file, save_file

    from agiqa.model.clip.head import WEIGHTS_NAME

    out = tmp_path / "clip-shifted"
    shutil.copytree(clip_dir, out)
    for f in (out / "heads").glob(f"*/{WEIGHTS_NAME}"):
        w = load_file(str(f))
        key = max(k for k in w if k.startswith("regressor.") and k.endswith(".bias"))  # the last Linear
        w[key] = w[key] + bias
        save_file(w, str(f))
    return out


@pytest.mark.parametrize("bias", [100.0, -100.0])
def test_default_clamps_to_the_declared_range(tiny_clip_dir, small_shards, tmp_path, bias):
    from agiqa.api import score

    clip = shifted_heads(tiny_clip_dir, tmp_path, bias)
    out = tmp_path / "out"
    summary = score(clip_config(clip, small_shards, out))
    assert summary.rows_by_status == {"ok": 40}
    got = pq.read_table(out / "a.parquet").column("quality_score").to_pylist()
    raw = explicit_scores(clip, small_shards / "a.parquet", "quality")
    assert min(raw) > 5 if bias > 0 else max(raw) < 0  # the raw heads are off the scale ...
    assert got == [5.0 if bias > 0 else 0.0] * len(raw)  # ... the method's output is not


def test_clamp_false_keeps_the_raw_output_and_declares_itself_unbounded(tiny_clip_dir, small_shards, tmp_path):
    from agiqa.api import score
    from agiqa.methods.clip.config import ClipAgiqaConfig

    clip = shifted_heads(tiny_clip_dir, tmp_path, 100.0)
    out = tmp_path / "out"
    score(clip_config(clip, small_shards, out, clamp=False))
    got = pq.read_table(out / "a.parquet").column("quality_score").to_pylist()
    assert got == pytest.approx(explicit_scores(clip, small_shards / "a.parquet", "quality"), abs=1e-4)
    assert min(got) > 5
    method = ClipAgiqaConfig(model=str(clip), clamp=False).build(("quality",))
    assert not method.spec.bounded and method.spec.describe() == "unbounded (nominal 0-5)"
    assert ClipAgiqaConfig(model=str(clip)).build(("quality",)).spec.describe() == "0-5"
    assert ClipAgiqaConfig(model=str(clip)).build(("quality",)).identity()["clamp"] is True
