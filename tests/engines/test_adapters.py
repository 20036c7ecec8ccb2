"""Adapters vLLM cannot serve are refused up front; merge-adapter makes them servable."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from agiqa.engines.vllm import check_servable_adapter


def test_modules_to_save_and_vision_targets_are_refused_with_the_fix(tiny_model_dir, tmp_path):
    src = tiny_model_dir / "adapters" / "quality"
    check_servable_adapter(src)  # the tiny model's own adapters are servable
    for patch in ({"modules_to_save": ["embed_tokens"]}, {"target_modules": ["q_proj", "qkv"]},
                  {"target_modules": r"vpm\..*\.q_proj"}):
        d = tmp_path / str(abs(hash(json.dumps(patch))))
        shutil.copytree(src, d)
        cfg = json.loads((d / "adapter_config.json").read_text())
        cfg.update(patch)
        (d / "adapter_config.json").write_text(json.dumps(cfg))
        with pytest.raises(ValueError, match="agiqa merge-adapter"):
            check_servable_adapter(d)


def test_merged_checkpoint_equals_base_plus_adapter(tiny_model_dir, tmp_path):
    from agiqa.engines.base import ScoringRequest
    from agiqa.engines.config import EngineConfig
    from agiqa.engines.hf import HFEngine
    from agiqa.engines.merge import merge_adapter

    out = tmp_path / "merged-quality"
    merge_adapter(str(tiny_model_dir), str(tiny_model_dir / "adapters" / "quality"), str(out))
    img = Image.fromarray((np.random.RandomState(3).rand(70, 90, 3) * 255).astype("uint8"))
    req = [ScoringRequest("quality", img, "describe 'a cat'", "a sharp photo", "rate it")]
    with_adapter = HFEngine(EngineConfig(model=str(tiny_model_dir)), ("quality",)).hidden_states(req)[0]
    merged = HFEngine(EngineConfig(model=str(out)), ("quality",)).hidden_states(req)[0]  # no adapters/ there
    base = HFEngine(EngineConfig(model=str(tiny_model_dir), adapters=str(tmp_path / "none")),
                    ("quality",)).hidden_states(req)[0]
    torch.testing.assert_close(merged, with_adapter, rtol=0, atol=1e-4)
    assert (merged - base).abs().max() > 1e-2


def test_hf_mixes_aspects_in_one_generate_and_matches_grouped(tiny_model_dir):
    """All three aspects' LoRA adapters in one batch (PEFT `adapter_names`): one `generate` for the batch,
    the same texts and states as one aspect at a time."""
    from agiqa.aspects import ASPECTS
    from agiqa.engines.base import DescribeRequest, ScoringRequest
    from agiqa.engines.config import EngineConfig
    from agiqa.engines.hf import HFEngine

    e = HFEngine(EngineConfig(model=str(tiny_model_dir), max_new_tokens=6, batch_size=4), ASPECTS)
    assert e._mixed
    im = Image.fromarray((np.random.RandomState(1).rand(60, 80, 3) * 255).astype("uint8"))
    reqs = [DescribeRequest(a, im, f"describe {a}") for a in ASPECTS]
    calls, generate = [], e.base.generate
    e.base.generate = lambda *a, **k: calls.append(1) or generate(*a, **k)
    mixed = e.describe(reqs)
    assert len(calls) == 1
    sreqs = [ScoringRequest(a, im, f"describe {a}", "a photo", "rate it") for a in ASPECTS]
    mixed_states = e.hidden_states(sreqs)
    e._mixed = False
    assert e.describe(reqs) == mixed and len(calls) == 4
    for a, b in zip(e.hidden_states(sreqs), mixed_states, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-5)


def test_hf_static_cache_gives_the_same_text(tiny_model_dir):
    """`static_cache` (fixed-shape KV cache, compiled decode on CUDA) is a speed setting: same descriptions."""
    from agiqa.aspects import ASPECTS
    from agiqa.engines.base import DescribeRequest
    from agiqa.engines.config import EngineConfig
    from agiqa.engines.hf import HFEngine

    e = HFEngine(EngineConfig(model=str(tiny_model_dir), max_new_tokens=8, batch_size=4), ASPECTS)
    rs = np.random.RandomState(2)
    reqs = [DescribeRequest(a, Image.fromarray((rs.rand(50 + 20 * i, 70, 3) * 255).astype("uint8")), f"describe {i}")
            for i in range(3) for a in ASPECTS]
    dynamic = e.describe(reqs)
    kinds, generate = [], e.base.generate
    e.base.generate = lambda *a, **k: kinds.append(k.get("cache_implementation")) or generate(*a, **k)
    e.cfg = e.cfg.model_copy(update={"static_cache": True})
    assert e.describe(reqs) == dynamic
    assert kinds and set(kinds) == {"static"}
