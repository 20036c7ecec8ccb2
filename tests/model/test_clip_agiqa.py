"""CLIP-AGIQA's model layer: the prompt learner's text path, training, freezing, save/load."""

import numpy as np
import pytest
import torch
from PIL import Image


@pytest.fixture(scope="module")
def backbone(tiny_clip_dir):
    from agiqa.model.clip.backbone import ClipBackbone

    return ClipBackbone(tiny_clip_dir)


def images(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (40 + 7 * i, 56, 3), dtype=np.uint8)) for i in range(n)]


def test_learned_context_goes_through_clips_own_text_tower(backbone):
    """With the context set to CLIP's own embedding of the placeholder word, the prompt learner's
    features equal transformers' get_text_features on the plain text: same tower, same end token."""
    from agiqa.model.clip.prompt_learner import CATEGORIES, PromptLearner

    learner = PromptLearner(backbone, n_ctx=16)
    x_id = backbone.tokenizer.convert_tokens_to_ids(backbone.tokenizer.tokenize("X"))[0]
    with torch.no_grad():
        learner.ctx.copy_(backbone.model.text_model.embeddings.token_embedding.weight[x_id].expand(16, -1))
        ours = learner(backbone)
        texts = [" ".join(["X"] * 16) + f" {c}." for c in CATEGORIES]
        tok = backbone.tokenizer(texts, padding="max_length", max_length=77, return_tensors="pt")
        out = backbone.model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])
        want = torch.nn.functional.normalize(getattr(out, "pooler_output", out), dim=-1)
    assert torch.allclose(ours, want, atol=1e-5)


def test_training_lowers_the_loss_and_leaves_the_backbone_frozen(backbone):
    from agiqa.model.clip.head import ClipAgiqaHead, ClipHeadConfig
    from agiqa.training.clip_trainer import ClipTrainSettings, cached_image_features, train_clip_head

    before = {k: v.clone() for k, v in backbone.model.state_dict().items()}
    torch.manual_seed(0)
    head = ClipAgiqaHead(ClipHeadConfig(backbone.feature_dim, backbone.text_width, dropout=0.0), backbone)
    ims = images(24)
    feats = cached_image_features(backbone, ims)
    y = [float(np.asarray(im).mean() / 51.0) for im in ims]  # a target the features can carry
    ctx0 = head.prompt_learner.ctx.detach().clone()
    hist = train_clip_head(head, backbone, feats, y, settings=ClipTrainSettings(epochs=15, batch_size=8,
                                                                                warmup_epochs=0, lr=0.01))
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert not torch.equal(head.prompt_learner.ctx, ctx0)  # the context vectors learned too
    assert all(not p.requires_grad for p in backbone.model.parameters())
    assert all(torch.equal(before[k], v) for k, v in backbone.model.state_dict().items())


def test_save_then_load_gives_identical_scores(backbone, tmp_path):
    from agiqa.model.clip.head import ClipAgiqaHead, ClipHeadConfig

    torch.manual_seed(1)
    head = ClipAgiqaHead(ClipHeadConfig(backbone.feature_dim, backbone.text_width, use_prompt=True), backbone).eval()
    head.save(tmp_path / "h")
    again = ClipAgiqaHead.load(tmp_path / "h", backbone)
    feats = backbone.image_features(np.stack([backbone.preprocess(im) for im in images(5)]))
    prompts = backbone.prompt_features(["a red circle", "two blue squares", "x", "", "a photo"])
    with torch.no_grad():
        assert torch.equal(head(feats, head.text_features(backbone), prompts),
                           again(feats, again.text_features(backbone), prompts))


def test_a_head_for_another_backbone_is_refused(backbone):
    from agiqa.model.clip.head import ClipAgiqaHead, ClipHeadConfig

    with pytest.raises(ValueError, match="another|gives"):
        ClipAgiqaHead(ClipHeadConfig(backbone.feature_dim + 1, backbone.text_width), backbone)


@pytest.mark.parametrize("size", [(96, 96), (500, 300), (300, 500), (64, 40), (97, 211), (1000, 999)])
def test_pil_transform_equals_the_image_processor(tiny_clip_dir, size):
    """The fast PIL path gives the processor's pixels (within one grey level) for any shape."""
    import numpy as np
    from PIL import Image
    from transformers import CLIPImageProcessor

    from agiqa.model.clip.backbone import PilClipTransform

    processor = CLIPImageProcessor.from_pretrained(tiny_clip_dir)
    transform = PilClipTransform.from_processor(processor)
    assert transform is not None
    rng = np.random.default_rng(size[0] * 7 + size[1])
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).resize(size)
    want = processor(images=image, return_tensors="np")["pixel_values"][0]
    got = transform(image)
    assert got.shape == want.shape and got.dtype == np.float32
    diff = np.abs(got - want)  # random noise, the hardest case for two bicubic implementations
    assert diff.max() < 0.2 and diff.mean() < 5e-3, (diff.max(), diff.mean())


def test_uint8_pixels_normalised_on_the_device_are_the_transforms_pixel_values_exactly(tiny_clip_dir):
    """preprocess hands uint8 pixels to the batch; normalising there is the same float32 arithmetic."""
    import numpy as np
    import torch
    from PIL import Image

    from agiqa.model.clip.backbone import ClipBackbone

    backbone = ClipBackbone(tiny_clip_dir)
    rng = np.random.default_rng(3)
    ims = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in ((50, 70), (96, 96), (120, 33))]
    raw = np.stack([backbone.preprocess(im) for im in ims])
    assert raw.dtype == np.uint8
    want = np.stack([backbone._pil_transform(im) for im in ims])
    assert torch.equal(backbone._pil_transform.normalize(torch.from_numpy(raw)), torch.from_numpy(want))
    assert torch.equal(backbone.image_features(raw), backbone.image_features(want))


def test_pil_transform_declines_settings_it_does_not_reproduce(tiny_clip_dir):
    from transformers import CLIPImageProcessor

    from agiqa.model.clip.backbone import PilClipTransform

    assert PilClipTransform.from_processor(CLIPImageProcessor.from_pretrained(tiny_clip_dir, resample=2)) is None
    assert PilClipTransform.from_processor(CLIPImageProcessor.from_pretrained(tiny_clip_dir,
                                                                              do_center_crop=False)) is None
