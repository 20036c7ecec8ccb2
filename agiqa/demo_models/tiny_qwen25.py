"""A tiny random-weight Qwen2.5-VL folder (no adapters, no heads), offline, in seconds.

Qwen2.5-VL differs from Qwen2-VL where it matters to training: its vision tower's MLP is named
gate/up/down_proj like the language model's (so LoRA target names must be anchored), and it has
window attention. Tests use it as "a user's own base": a checkpoint with no `heads/` folder.
It reuses the tiny Qwen2-VL's tokenizer, text shapes and image processor, so it reads the same data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def build_tiny_qwen25_vl(out: str | Path, seed: int = 0) -> Path:
    import torch
    from transformers import (
        AutoProcessor,
        AutoTokenizer,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLConfig,
    )

    from agiqa.demo_models.tiny_model import build_tiny_model

    out = Path(out)
    build_tiny_model(out, seed=seed, with_adapters=False)  # tokenizer, processor, generation config
    shutil.rmtree(out / "heads")  # a base model, as a user downloads it: no agiqa heads
    v2 = Qwen2VLConfig.from_pretrained(out)
    text = v2.text_config.to_dict()
    for k in ("model_type", "architectures", "dtype", "transformers_version"):
        text.pop(k, None)
    vis = v2.vision_config
    cfg = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=dict(depth=2, hidden_size=vis.embed_dim, intermediate_size=2 * vis.embed_dim,
                           num_heads=vis.num_heads, out_hidden_size=v2.text_config.hidden_size, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2, window_size=56, fullatt_block_indexes=[1],
                           in_chans=3),
        image_token_id=v2.image_token_id, video_token_id=v2.video_token_id,
        vision_start_token_id=v2.vision_start_token_id, vision_end_token_id=v2.vision_end_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(cfg).float().eval()
    with torch.no_grad():  # the scale a trained LM head has (see tiny_model.py)
        model.lm_head.weight.normal_(0.0, 2.0 / cfg.text_config.hidden_size ** 0.5)
    for f in out.glob("model*.safetensors*"):
        f.unlink()
    model.save_pretrained(out)
    old = AutoProcessor.from_pretrained(out)
    Qwen2_5_VLProcessor(image_processor=old.image_processor, tokenizer=AutoTokenizer.from_pretrained(out),
                        video_processor=old.video_processor, chat_template=old.chat_template).save_pretrained(out)
    info = json.loads((out / "agiqa_model.json").read_text())
    (out / "agiqa_model.json").write_text(json.dumps({**info, "family": "qwen2_5_vl", "heads": "none"}, indent=2)
                                          + "\n")
    return out
