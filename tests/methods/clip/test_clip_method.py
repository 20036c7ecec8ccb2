"""clip-agiqa through the score job: the same outputs as the explicit model path, checks before any load."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from agiqa.runner.engine_loop import run_sync
from tests.fixtures.shards import write_shard
from tests.fixtures.state import state


def clip_config(clip_dir, data, out, **extra):
    from agiqa.config import ScoreJobConfig

    return ScoreJobConfig(input=str(data), output=str(out), method={"name": "clip-agiqa", "model": str(clip_dir),
                                                                     **extra}, runner={"kind": "local"},
                          progress=False, read_batch_rows=4)


def explicit_scores(clip_dir, shard, aspect):
    """CLIP-AGIQA by hand from the saved files: preprocess, image feature, category texts, regressor."""
    import io

    from agiqa.model.clip.backbone import ClipBackbone
    from agiqa.model.clip.head import ClipAgiqaHead

    b = ClipBackbone(clip_dir)
    head = ClipAgiqaHead.load(clip_dir / "heads" / aspect, b)
    t = pq.read_table(shard)
    ims = [Image.open(io.BytesIO(x)).convert("RGB") for x in t.column("image").to_pylist()]
    feats = b.image_features(np.stack([b.preprocess(im) for im in ims]))
    prompts = b.prompt_features(t.column("prompt").to_pylist()) if head.config.use_prompt else None
    with torch.no_grad():
        return head(feats, head.text_features(b), prompts).tolist()


def test_scores_equal_the_explicit_model_path(tiny_clip_dir, small_shards, tmp_path):
    from agiqa.api import score

    out = tmp_path / "out"
    summary = score(clip_config(tiny_clip_dir, small_shards, out, batch_size=3))
    assert summary.rows_by_status == {"ok": 40}
    got = pq.read_table(out / "sub/c.parquet")
    assert {"quality_score", "quality_rating", "status", "error"} <= set(got.column_names)
    assert not any(c.endswith("_description") for c in got.column_names) and "image" not in got.column_names
    for aspect in ("quality", "correspondence", "authenticity"):
        assert got.column(f"{aspect}_score").to_pylist() == pytest.approx(
            explicit_scores(tiny_clip_dir, small_shards / "sub/c.parquet", aspect), abs=1e-5)
    man = json.loads((state(out) / "manifests/sub/c.parquet.manifest.json").read_text())
    assert man["identity"]["method_identity"]["method"] == "clip-agiqa"


def test_correspondence_reads_the_prompt_and_the_other_aspects_do_not(tiny_clip_dir, tmp_path):
    from agiqa.api import score
    from tests.fixtures.shards import png

    data = tmp_path / "in"
    write_shard(data / "a.parquet", ["r0", "r1", "r2"], ["three red circles", "a blue square", None],
                images=[png(7)] * 3)
    out = tmp_path / "out"
    score(clip_config(tiny_clip_dir, data, out))
    rows = pq.read_table(out / "a.parquet").to_pylist()
    assert rows[0]["quality_score"] == pytest.approx(rows[1]["quality_score"])  # same image: same quality
    assert rows[0]["correspondence_score"] != pytest.approx(rows[1]["correspondence_score"], abs=1e-7)
    assert rows[2]["status"] == "partial" and rows[2]["correspondence_score"] is None
    assert rows[2]["quality_score"] == pytest.approx(rows[0]["quality_score"])


def test_text_features_are_computed_once_and_equal_recomputing_them_per_batch(tiny_clip_dir):
    from agiqa.methods.clip.config import ClipAgiqaConfig
    from tests.fixtures.shards import png

    method = ClipAgiqaConfig(model=str(tiny_clip_dir)).build(("quality",))
    method.setup()
    calls = []
    head = method.heads["quality"]
    real = head.text_features
    head.text_features = lambda b: calls.append(1) or real(b)
    ims = [Image.open(__import__("io").BytesIO(png(k))).convert("RGB") for k in range(6)]
    px = [method.preprocess(im) for im in ims]
    got = run_sync(method.score(px, ["p"] * 6)).scores["quality"]
    assert calls == []  # scoring never recomputed them
    with torch.no_grad():
        per_batch = head(method.backbone.image_features(np.stack(px)), real(method.backbone)).tolist()
    assert got == pytest.approx(per_batch, abs=1e-6)


@pytest.mark.parametrize("change, message", [
    (lambda d: (d / "config.json").write_text(json.dumps({"model_type": "qwen2_vl"})), "not CLIP"),
    (lambda d: (d / "heads" / "quality" / "clip_head.safetensors").unlink(), "no CLIP-AGIQA head"),
    (lambda d: (d / "heads" / "quality" / "clip_head_config.json").write_text(
        json.dumps({"feature_dim": 7, "text_width": 64})), "another backbone"),
])
def test_bad_setups_are_refused_before_any_load(tiny_clip_dir, tmp_path, change, message):
    import shutil

    from agiqa.errors import ConfigError
    from agiqa.methods.clip.config import ClipAgiqaConfig

    d = tmp_path / "clip"
    shutil.copytree(tiny_clip_dir, d)
    change(d)
    with pytest.raises(ConfigError, match=message):
        ClipAgiqaConfig(model=str(d)).check(("quality",))


def test_prompt_features_are_computed_once_per_distinct_prompt_and_the_least_recent_dropped():
    from agiqa.methods.clip.batching import PromptFeatureCache

    calls = []

    def compute(prompts):
        calls.append(list(prompts))
        return torch.tensor([[float(len(p)), float(ord(p[0]))] for p in prompts])

    cache = PromptFeatureCache(compute, max_entries=3)
    got = cache.features(["aa", "b", "aa"])
    assert calls == [["aa", "b"]] and got.tolist() == [[2.0, 97.0], [1.0, 98.0], [2.0, 97.0]]
    cache.features(["b", "ccc"])
    assert calls[-1] == ["ccc"] and (cache.hits, cache.misses) == (2, 3)
    cache.features(["dd"])  # 4 distinct: "aa" was used least recently
    assert len(cache) == 3
    cache.features(["aa", "b"])
    assert calls[-1] == ["aa"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_the_streamed_job_gives_the_cpus_scores(tiny_clip_dir, small_shards, tmp_path):
    """The coroutine path (pinned uint8 batches, non-blocking copies, several batches in flight)."""
    from agiqa.api import score

    for device in ("cpu", "cuda"):
        cfg = clip_config(tiny_clip_dir, small_shards, tmp_path / device, device=device, dtype="float32")
        cfg.runner.max_batches_in_flight = 4
        assert score(cfg).rows_by_status == {"ok": 40}
    for shard in sorted(small_shards.rglob("*.parquet")):
        rel = shard.relative_to(small_shards)
        cpu, gpu = pq.read_table(tmp_path / "cpu" / rel), pq.read_table(tmp_path / "cuda" / rel)
        assert gpu.column("id").to_pylist() == cpu.column("id").to_pylist()
        for a in ("quality", "correspondence", "authenticity"):
            assert gpu.column(f"{a}_score").to_pylist() == pytest.approx(cpu.column(f"{a}_score").to_pylist(),
                                                                         abs=1e-3)


def test_cpu_threads_default_to_half_the_cpus_the_job_gives_the_actor(tiny_clip_dir, tmp_path, monkeypatch):
    """The actor's CPUs come from `resources.score.num_cpus` (the method's default otherwise), not a CLIP field.
    What the method asks torch for is recorded (an in-process vLLM earlier in the session may have
    pinned the process's OpenMP threads, so the count torch then reports depends on test order)."""
    from agiqa.workflows.score import build_score_job

    write_shard(tmp_path / "in" / "s.parquet", [1, 2])
    cfg = clip_config(tiny_clip_dir, tmp_path / "in", tmp_path / "out", device="cpu")
    cfg.resources = {"score": {"num_cpus": 6}}
    method = build_score_job(cfg).passes[0].stage.method
    asked = []
    monkeypatch.setattr(torch, "set_num_threads", asked.append)
    try:
        method.setup()
        assert asked == [3]
    finally:
        method.teardown()
