"""The MiniCPM-V 2.5 engine: round 1 decoded as the reference's `chat(sampling=False)` (beam search, 3 beams,
repetition penalty 1.2), batched; the scoring pass with the adapter unmerged, batched with masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

SIZES = [(448, 448), (300, 200), (640, 360)]  # no slices, no slices (upscaled), a 2x1 grid


def _imgs():
    rng = np.random.default_rng(3)
    return [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for w, h in SIZES]


@pytest.fixture(scope="module")
def engine(tiny_minicpmv_dir):
    from agiqa.engines import build_engine
    from agiqa.engines.config import EngineConfig

    e = build_engine(EngineConfig(model=str(tiny_minicpmv_dir), max_new_tokens=6, batch_size=8, device="cpu"),
                     ("quality", "authenticity"))
    yield e
    e.close()


def test_family_decoding_defaults_are_the_references():
    from agiqa.engines.config import Decoding, EngineConfig, decoding

    cfg = EngineConfig(model="m")
    assert decoding(cfg, "minicpmv-2.5") == Decoding(num_beams=3, repetition_penalty=1.2, max_new_tokens=1024)
    assert decoding(cfg) == Decoding(num_beams=1, repetition_penalty=1.0, max_new_tokens=128)
    assert decoding(EngineConfig(model="m", num_beams=1), "minicpmv-2.5").num_beams == 1


def test_round1_beam_search_batched_equals_one_at_a_time(engine):
    from agiqa.engines.base import DescribeRequest

    assert (engine.decoding.num_beams, engine.decoding.repetition_penalty) == (3, 1.2)
    reqs = [DescribeRequest(a, im, "Describe the image quality.") for im in _imgs() for a in ("quality",
                                                                                            "authenticity")]
    batched = engine.describe(reqs)
    assert batched == [engine.describe([r])[0] for r in reqs]
    assert any(batched)


@torch.no_grad()
def test_scoring_pass_batched_unmerged_equals_merged_one_at_a_time(engine, tiny_minicpmv_dir):
    """Hidden states of a batch (right padding, masks) equal those of each row alone through a model
    whose adapter was merged into its weights (peft's merge, an independent path for the LoRA)."""
    from peft import PeftModel

    from agiqa.engines.base import ScoringRequest
    from agiqa.engines.minicpmv.model import MiniCPMV25

    reqs = [ScoringRequest("quality", im, "Rate it.", "a sharp picture " * (i + 1), "How good?")
            for i, im in enumerate(_imgs())]
    batched = engine.hidden_states(reqs)
    merged = PeftModel.from_pretrained(MiniCPMV25.from_pretrained(tiny_minicpmv_dir),
                                       str(tiny_minicpmv_dir / "adapters" / "quality")).merge_and_unload()
    for r, h in zip(reqs, batched, strict=True):
        enc = engine.encode_scoring(r)
        assert h.shape == (len(enc.ids), engine.hidden_size)
        ids = torch.tensor([enc.ids])
        emb = merged.embed(ids, [enc.bounds], [merged.vision_features(enc.images)])
        want = merged.hidden_states(emb, torch.ones_like(ids))[0]
        assert (h - want).abs().max().item() < 1e-4
    # the states are after the final norm: the LM head applied to them gives the model's own logits
    enc = engine.encode_scoring(reqs[0])
    ids = torch.tensor([enc.ids])
    emb = merged.embed(ids, [enc.bounds], [merged.vision_features(enc.images)])
    logits = merged.llm(inputs_embeds=emb, attention_mask=torch.ones_like(ids)).logits[0]
    w, _ = engine.lm_head("quality")
    assert (batched[0] @ w.T - logits).abs().max().item() < 1e-3


def test_the_heads_slices_and_max_length_shape_the_scoring_input(engine):
    from agiqa.engines.base import ScoringRequest

    img = Image.fromarray(np.random.default_rng(5).integers(0, 255, (1344, 1344, 3), dtype=np.uint8))
    r9 = ScoringRequest("quality", img, "Rate it.", "fine", "How good?", max_length=4096, max_slices=9)
    r4 = ScoringRequest("quality", img, "Rate it.", "fine", "How good?", max_length=4096, max_slices=4)
    cut = ScoringRequest("quality", img, "Rate it.", "fine", "How good?", max_length=100, max_slices=4)
    e9, e4, ec = (engine.encode_scoring(r) for r in (r9, r4, cut))
    assert (e9.grid, len(e9.images), e4.grid, len(e4.images)) == ((3, 3), 10, (2, 2), 5)
    assert len(ec.ids) == 100 and ec.ids == e4.ids[:100]
