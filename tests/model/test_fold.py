"""The folded projection equals the reference's explicit W(lm_head(h)) path."""

import pytest
import torch

from agiqa.model.fold import fold_projection, unfolded_projection


@pytest.mark.parametrize(
    "hidden,vocab,out,with_lm_bias",
    [(16, 50, 8, False), (64, 1000, 32, True), (128, 4096, 512, False), (96, 333, 7, True)],
)
def test_fold_matches_explicit_path_on_random_matrices(hidden, vocab, out, with_lm_bias):
    g = torch.Generator().manual_seed(hidden * vocab)
    lm_w = torch.randn(vocab, hidden, generator=g) / hidden**0.5
    lm_b = torch.randn(vocab, generator=g) if with_lm_bias else None
    w = torch.randn(out, vocab, generator=g) / vocab**0.5
    b = torch.randn(out, generator=g)
    h = torch.randn(3, 11, hidden, generator=g)
    fw, fb = fold_projection(w, b, lm_w, lm_b)
    assert fw.shape == (out, hidden)
    folded = torch.nn.functional.linear(h, fw, fb)
    explicit = unfolded_projection(h.double(), w.double(), b.double(), lm_w.double(),
                                   None if lm_b is None else lm_b.double())
    torch.testing.assert_close(folded.double(), explicit, rtol=1e-5, atol=1e-5)


def test_fold_rejects_vocab_mismatch():
    with pytest.raises(ValueError, match="vocab"):
        fold_projection(torch.zeros(4, 10), None, torch.zeros(11, 3))


def test_fold_on_tiny_model_hidden_states(tiny_model_dir):
    """On real final hidden states of the tiny model and its real LM head."""
    import numpy as np
    from PIL import Image

    from agiqa.engines.base import ScoringRequest
    from agiqa.engines.config import EngineConfig
    from agiqa.engines.hf import HFEngine
    from agiqa.model.checkpoint import load_lm_head

    eng = HFEngine(EngineConfig(model=str(tiny_model_dir)), ("quality",))
    img = Image.fromarray((np.random.RandomState(0).rand(60, 90, 3) * 255).astype("uint8"))
    h = eng.hidden_states([ScoringRequest("quality", img, "describe 'a cat'", "a blurry cat", "rate it")])[0]
    lm_w, lm_b = load_lm_head(tiny_model_dir)
    w_eng, _ = eng.lm_head("quality")
    torch.testing.assert_close(lm_w, w_eng)  # the safetensors reader finds the engine's LM head
    w = torch.randn(512, lm_w.shape[0]) / lm_w.shape[0] ** 0.5
    b = torch.randn(512)
    fw, fb = fold_projection(w, b, lm_w, lm_b)
    folded = torch.nn.functional.linear(h, fw, fb)
    explicit = unfolded_projection(h, w, b, lm_w, lm_b)
    assert explicit.shape == folded.shape == (h.shape[0], 512)
    torch.testing.assert_close(folded, explicit, rtol=1e-4, atol=1e-4)
