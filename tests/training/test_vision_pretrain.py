"""Vision-tower pretraining for the tiny model: it learns visual facts, and the folder keeps them."""

from __future__ import annotations

import json


def test_dct_basis_rows_are_orthonormal_per_colour_channel():
    import torch

    from agiqa.demo_models.vision_pretrain import dct_patch_basis

    basis = dct_patch_basis(64, 14)
    assert basis.shape == (64, 3, 2, 14, 14)
    luma = basis[6:, 1, 0].reshape(58, -1)  # the luminance rows, one channel and frame: distinct DCT terms
    gram = luma @ luma.T
    off_diagonal = gram - torch.diag(torch.diag(gram))
    assert off_diagonal.abs().max() < 1e-5 and (torch.diag(gram) > 0).all()


def test_make_tiny_model_pretrains_the_vision_tower_and_saves_it(tmp_path):
    """Held-out facts beat the majority class after pretraining; the saved tower is the trained one."""
    import torch
    from transformers import AutoModelForImageTextToText

    from agiqa.demo_models.tiny_model import build_tiny_model

    out = build_tiny_model(tmp_path / "m", with_adapters=False,
                           pretrain_vision={"rows": 600, "epochs": 4, "batch_size": 32, "test_rows": 200, "log": lambda _m: None})
    report = json.loads((out / "agiqa_model.json").read_text())["vision_pretraining"]
    acc, majority = report["held_out_accuracy"], report["majority_class_accuracy"]
    assert acc["color"] > majority["color"] + 0.3, report
    assert acc["background"] > 0.9, report

    random_tower = AutoModelForImageTextToText.from_pretrained(build_tiny_model(tmp_path / "r", with_adapters=False))
    saved = AutoModelForImageTextToText.from_pretrained(out)
    patch = saved.model.visual.patch_embed.proj.weight
    assert not torch.allclose(patch, random_tower.model.visual.patch_embed.proj.weight)
    assert torch.equal(saved.model.language_model.embed_tokens.weight,
                       random_tower.model.language_model.embed_tokens.weight)  # the language model stays random


def test_tiny_clip_pretraining_learns_captions_and_facts_and_is_what_the_folder_holds(tmp_path):
    """The CLIP stand-in for web-scale pretraining: held-out image->caption retrieval and a visual fact
    beat chance after a short run, and the folder's image features are the trained model's."""
    import torch

    from agiqa.demo_models.tiny_clip import build_tiny_clip
    from agiqa.model.clip.backbone import ClipBackbone

    out = build_tiny_clip(tmp_path / "c", with_heads=False,
                          pretrain={"rows": 400, "epochs": 5, "batch_size": 32, "test_rows": 150, "log": lambda _m: None})
    report = json.loads((out / "agiqa_model.json").read_text())
    assert report["random_weights"] is False
    pre = report["pretraining"]
    assert pre["loss_per_epoch"][-1] < pre["loss_per_epoch"][0], pre
    assert pre["held_out_accuracy"]["background"] > 0.9, pre
    assert pre["held_out_retrieval_accuracy"] > 2 / 144, pre  # 144 distinct captions: chance is about 1/144
    random_clip = ClipBackbone(build_tiny_clip(tmp_path / "r", with_heads=False, vision_config={"image_size": 96},
                                               projection_dim=64))
    saved = ClipBackbone(out)
    pixels = torch.rand(2, 3, 96, 96)
    assert saved.image_features(pixels).shape == (2, 64)
    assert not torch.allclose(saved.image_features(pixels), random_clip.image_features(pixels))
