"""Build a tiny, random-weight, complete M3-AGIQA model folder, offline, in seconds.

Tests and the demo need a model that exercises every real code path (transformers, peft, vLLM,
the head) without a model hub. The folder has exactly the layout a real checkpoint has:

    DIR/                      Qwen2-VL (config, safetensors, tokenizer, processor, chat template)
    DIR/adapters/<aspect>/    PEFT LoRA adapter on the language model's attention projections
    DIR/heads/<aspect>/       M3 head (random init, `trained: false` in its config)
    DIR/agiqa_model.json      what this folder is

so `agiqa score --model DIR` loads it through the same code as a user's real checkpoint.
Adapters target only language-model modules, so vLLM can serve them as LoRA.
"""

from __future__ import annotations

import json
from pathlib import Path

from agiqa.aspects import ASPECTS
from agiqa.engines.lora import LORA_TARGETS

TINY_TEXT = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2)
TINY_VISION = dict(depth=2, embed_dim=64, hidden_size=128, num_heads=2, mlp_ratio=2, patch_size=14,
                   spatial_merge_size=2, temporal_patch_size=2, in_channels=3)


def build_tiny_model(
    out: str | Path,
    seed: int = 0,
    vocab_size: int = 1024,
    head_dim: int = 64,
    context_length: int = 1024,
    lora_rank: int = 8,
    text_config: dict | None = None,
    vision_config: dict | None = None,
    vocab_size_padded: int | None = None,
    save_dtype: str = "float32",
    with_adapters: bool = True,
    pretrain_vision: dict | None = None,
) -> Path:
    """Write a tiny Qwen2-VL + per-aspect LoRA adapters + per-aspect M3 heads to `out`.

    `text_config` / `vision_config` / `vocab_size_padded` override the shapes, so benchmarks can
    build a random-weight model of a real size (e.g. Qwen2-VL-2B's) through the same code.
    `pretrain_vision` (keyword arguments of `pretrain_vision_tower`, `{}` for its defaults) gives
    the vision tower a short pretraining on procedural images, as a real checkpoint's tower has
    had (agiqa/demo_models/vision_pretrain.py); the language model stays random either way.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        GenerationConfig,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    from agiqa.demo_models.tokenizer import QWEN2VL_CHAT_TEMPLATE, train_tokenizer
    from agiqa.model.head import M3Head
    from agiqa.model.head_config import M3HeadConfig
    from agiqa.model.prompts import PROMPT_SETS

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    texts = [t for ps in PROMPT_SETS.values() for d in (ps.round1, ps.round2) for t in d.values()]
    tok = train_tokenizer(texts, vocab_size=vocab_size, seed=seed)
    ids = {t: tok.convert_tokens_to_ids(t) for t in tok.all_special_tokens + ["<|image_pad|>", "<|video_pad|>",
                                                                               "<|vision_start|>", "<|vision_end|>"]}
    padded_vocab = vocab_size_padded or (len(tok) + 63) // 64 * 64
    text = {**TINY_TEXT, **(text_config or {})}
    head_dim_attn = text["hidden_size"] // text["num_attention_heads"]
    mrope = [head_dim_attn // 8, head_dim_attn * 3 // 16, head_dim_attn * 3 // 16]  # sums to head_dim/2
    cfg = Qwen2VLConfig(
        text_config=dict(
            vocab_size=padded_vocab, max_position_embeddings=32768, rope_theta=10000.0,
            rope_scaling={"type": "mrope", "mrope_section": mrope},
            bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
            tie_word_embeddings=False, **text,
        ),
        vision_config={**TINY_VISION, **(vision_config or {})},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    cfg.dtype = getattr(torch, save_dtype)
    model = Qwen2VLForConditionalGeneration(cfg).to(cfg.dtype).eval()
    # A trained LM head spreads its logits over tens of units; the default init (std 0.02) caps a
    # random tiny model's best logit near 2.5 (so no token can pass ~1% probability) and makes it
    # unteachable by LoRA, which cannot touch the head. Give the head the scale a trained one has.
    with torch.no_grad():
        model.lm_head.weight.normal_(0.0, 2.0 / text["hidden_size"] ** 0.5)
    image_processor = Qwen2VLImageProcessor(min_pixels=56 * 56, max_pixels=448 * 448)
    processor = Qwen2VLProcessor(image_processor=image_processor, tokenizer=tok,
                                 video_processor=Qwen2VLVideoProcessor(), chat_template=QWEN2VL_CHAT_TEMPLATE)
    vision_report = None
    if pretrain_vision is not None:
        from agiqa.demo_models.vision_pretrain import pretrain_vision_tower

        model.float()
        vision_report = pretrain_vision_tower(model, processor, **pretrain_vision)
        model.to(cfg.dtype).eval()
    model.save_pretrained(out)
    processor.save_pretrained(out)
    tok.save_pretrained(out)
    GenerationConfig(eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"]).save_pretrained(out)

    if with_adapters:
        for i, aspect in enumerate(ASPECTS):
            torch.manual_seed(seed * 1000 + i + 1)
            lcfg = LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank, lora_dropout=0.0,
                              target_modules=list(LORA_TARGETS), init_lora_weights=False)
            peft_model = get_peft_model(model, lcfg)
            peft_model.save_pretrained(out / "adapters" / aspect)
            model = peft_model.unload()  # back to the untouched base for the next aspect
    hidden = text["hidden_size"]
    for i, aspect in enumerate(ASPECTS):
        torch.manual_seed(seed * 1000 + 100 + i)
        hcfg = M3HeadConfig(hidden_size=hidden, embedding_dim=head_dim, context_length=context_length,
                            aspect=aspect, trained=False, notes={"init": "random", "source": "agiqa tiny model"})
        M3Head(hcfg).save(out / "heads" / aspect)
    (out / "agiqa_model.json").write_text(json.dumps({
        "kind": "tiny-random", "family": "qwen2_vl", "seed": seed, "aspects": list(ASPECTS),
        "note": "random weights for tests and demos; its scores mean nothing until trained",
        "vision_pretraining": vision_report or "none (random vision tower)",
    }, indent=2) + "\n")
    return out
