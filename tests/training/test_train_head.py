"""train-head: loss goes down, the feature cache changes nothing, the result loads for scoring."""

import numpy as np
import pytest
import torch
from PIL import Image

from agiqa.model.head import M3Head
from agiqa.model.prompts import M3AGIQA


@pytest.fixture(scope="module")
def feats_and_labels(tiny_model_dir):
    from agiqa.engines.config import EngineConfig
    from agiqa.engines.hf import HFEngine
    from agiqa.methods.m3.two_round import Conversation
    from agiqa.training.features import compute_features

    rs = np.random.RandomState(0)
    images = [Image.fromarray((rs.rand(56, 56, 3) * 255).astype("uint8")) for _ in range(12)]
    descs = ["The image is sharp and clean." if i % 2 else "The image is heavily blurred and very noisy."
             for i in range(12)]
    y = [4.5 if i % 2 else 1.0 for i in range(12)]
    engine = HFEngine(EngineConfig(model=str(tiny_model_dir)), ("quality",))
    convs = [Conversation("quality", im, M3AGIQA.first_turn("quality", "a red circle"), M3AGIQA.second_turn("quality"))
             for im in images]
    compute = lambda: compute_features(engine, convs, descs)  # noqa: E731
    return compute, y


def fresh_head(tiny_model_dir):
    return M3Head.load(tiny_model_dir / "heads" / "quality")


def test_a_few_epochs_reduce_the_loss(tiny_model_dir, feats_and_labels):
    from agiqa.training.head_trainer import train_head

    compute, y = feats_and_labels
    hist = train_head(fresh_head(tiny_model_dir), compute(), y, epochs=4, lr=3e-3, batch_size=4)
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]


def test_head_trained_from_cache_equals_head_trained_without(tiny_model_dir, feats_and_labels, tmp_path):
    from agiqa.training.features import cached_features
    from agiqa.training.head_trainer import train_head

    compute, y = feats_and_labels
    first, hit1 = cached_features(str(tmp_path), "k", compute)
    cached, hit2 = cached_features(str(tmp_path), "k", lambda: pytest.fail("cache missed"))
    assert (hit1, hit2) == (False, True)
    a, b = fresh_head(tiny_model_dir), fresh_head(tiny_model_dir)
    train_head(a, compute(), y, epochs=2, seed=3)
    train_head(b, cached, y, epochs=2, seed=3)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(va, vb, rtol=0, atol=0, msg=k)


def test_trained_head_saves_and_loads_with_identical_scores(tiny_model_dir, feats_and_labels, tmp_path):
    from agiqa.training.head_trainer import train_head

    compute, y = feats_and_labels
    feats = compute()
    head = fresh_head(tiny_model_dir)
    train_head(head, feats, y, epochs=2)
    head.save(tmp_path / "quality")
    loaded = M3Head.load(tmp_path / "quality")
    assert loaded.config.trained
    torch.testing.assert_close(loaded.score(feats), head.score(feats), rtol=0, atol=0)
