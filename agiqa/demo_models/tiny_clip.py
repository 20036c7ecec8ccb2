"""Build a tiny, random-weight CLIP folder in the released layout, plus CLIP-AGIQA heads, offline.

    DIR/                   CLIP (config.json `model_type: clip`, model.safetensors, tokenizer.json,
                           tokenizer_config.json, preprocessor_config.json): what
                           `openai/clip-vit-base-patch16` holds, at toy sizes
    DIR/heads/<aspect>/    CLIP-AGIQA heads (random init, `trained: false`); correspondence's with
                           the prompt input (`use_prompt: true`)

The tokenizer is a CLIP-style BPE (lower-cased, `</w>` word ends, byte-level alphabet) trained here
in a second on the words the pipeline uses, so `AutoTokenizer` loads it as a `CLIPTokenizer`, as it
does a real release's. `agiqa score --method clip-agiqa --model DIR` loads it through the same code
as a user's real CLIP folder.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from agiqa.aspects import ASPECTS

TINY_TEXT = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 max_position_embeddings=77)
TINY_VISION = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                   image_size=64, patch_size=16)


def train_clip_tokenizer(vocab_size: int = 768, seed: int = 0):
    """A `CLIPTokenizer` over a BPE trained here on the pipeline's words (byte-level: any text tokenizes)."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    from agiqa.demo_models.tokenizer import _WORDS
    from agiqa.model.clip.prompt_learner import CATEGORIES

    rng = random.Random(seed)
    words = list(_WORDS) + list(CATEGORIES) + ["x"]
    corpus = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 20))) + rng.choice([".", ",", "!", ""])
              for _ in range(3000)]
    corpus += ["0 1 2 3 4 5 6 7 8 9 . , ! ? : ; ( ) [ ] ' \" - _ / & + = % $ # @ *"] * 50
    tk = Tokenizer(models.BPE(end_of_word_suffix="</w>", unk_token="<|endoftext|>"))
    tk.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                          normalizers.Lowercase()])
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|startoftext|>", "<|endoftext|>"],
                                  end_of_word_suffix="</w>", initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(corpus, trainer)
    model = json.loads(tk.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return CLIPTokenizer(vocab=model["vocab"], merges=merges, model_max_length=TINY_TEXT["max_position_embeddings"])


def build_tiny_clip(out: str | Path, seed: int = 0, projection_dim: int = 32, text_config: dict | None = None,
                    vision_config: dict | None = None, with_heads: bool = True, save_dtype: str = "float32",
                    pretrain: dict | None = None) -> Path:
    """Write a random-weight CLIP (+ heads) to `out`. `text_config` / `vision_config` override the shapes,
    so a benchmark can build a random CLIP of a real size (ViT-B/16, ViT-L/14) through the same code.

    `pretrain` (keyword arguments of `clip_pretrain.pretrain_tiny_clip`, `{}` for its defaults) first
    gives the CLIP a procedural image-caption pretraining, at 96 px with 64-d features unless the
    configs say otherwise: what learnability runs and the demo need (a random CLIP sees nothing)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tok = train_clip_tokenizer(seed=seed)
    text = {**TINY_TEXT, **(text_config or {})}
    vision = {**TINY_VISION, **({"image_size": 96} if pretrain is not None else {}), **(vision_config or {})}
    if pretrain is not None and projection_dim == 32:
        projection_dim = 64
    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    text_vocab = max(len(tok), text.pop("vocab_size", 0))
    cfg = CLIPConfig(text_config={**text, "vocab_size": text_vocab, **ids}, vision_config=vision,
                     projection_dim=projection_dim)
    model = CLIPModel(cfg).eval()
    size = vision["image_size"]
    processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    info = {"kind": "tiny-clip", "method": "clip-agiqa", "seed": seed, "random_weights": pretrain is None}
    if pretrain is not None:
        from agiqa.demo_models.clip_pretrain import pretrain_tiny_clip

        info["pretraining"] = pretrain_tiny_clip(model, processor, tok, **pretrain)
    model.to(getattr(torch, save_dtype)).save_pretrained(out)
    tok.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "agiqa_model.json").write_text(json.dumps(info, indent=2) + "\n")
    if with_heads:
        write_random_heads(out, out / "heads", ASPECTS, seed)
    return out


def write_random_heads(clip_dir: str | Path, heads_dir: str | Path, aspects, seed: int = 0) -> None:
    """Untrained CLIP-AGIQA heads (correspondence's reads the prompt), sized from the CLIP folder."""
    import torch

    from agiqa.model.clip.backbone import ClipBackbone
    from agiqa.model.clip.head import ClipAgiqaHead, ClipHeadConfig

    backbone = ClipBackbone(clip_dir)
    for k, aspect in enumerate(aspects):
        torch.manual_seed(seed * 100 + k)
        cfg = ClipHeadConfig(feature_dim=backbone.feature_dim, text_width=backbone.text_width, aspect=aspect,
                             use_prompt=aspect == "correspondence")
        head = ClipAgiqaHead(cfg, backbone)
        with torch.no_grad():  # mid-scale: untrained outputs sit inside 0-5, so the method's clamp keeps them apart
            head.regressor[-1].bias.add_(2.5)
        head.save(Path(heads_dir) / aspect)
