"""The frozen CLIP behind CLIP-AGIQA, loaded from a local folder in the released layout.

A folder such as `openai/clip-vit-base-patch16` (config.json with `model_type: clip`, weights,
tokenizer files, preprocessor_config.json) or one written by `agiqa make-tiny-model --method
clip-agiqa` loads through the same transformers classes. Nothing is downloaded.

Preprocessing is the paper's test transform (resize the short side, bicubic; centre crop; CLIP
mean/std), done by the folder's own `CLIPImageProcessor` one image at a time on the stage's I/O
thread, so the engine thread only runs the network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def is_clip_folder(path: str | Path) -> bool:
    import json

    cfg = Path(path) / "config.json"
    return cfg.is_file() and json.loads(cfg.read_text()).get("model_type") == "clip"


class ClipBackbone:
    """CLIPModel + tokenizer + image processor; every parameter frozen (requires_grad False)."""

    def __init__(self, folder: str | Path, device: str = "cpu", dtype: torch.dtype = torch.float32):
        from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel

        self.folder = str(folder)
        self.device, self.dtype = torch.device(device), dtype
        self.model = CLIPModel.from_pretrained(self.folder, dtype=dtype).to(self.device).eval()
        self.model.requires_grad_(False)
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        self.processor = CLIPImageProcessor.from_pretrained(self.folder)
        self.max_positions = self.model.config.text_config.max_position_embeddings

    @property
    def feature_dim(self) -> int:
        return int(self.model.config.projection_dim)

    @property
    def text_width(self) -> int:
        return int(self.model.config.text_config.hidden_size)

    def preprocess(self, image) -> np.ndarray:
        """One RGB PIL image -> float32 [3, S, S] pixel values (CPU work; any thread)."""
        return self.processor(images=image, return_tensors="np")["pixel_values"][0]

    @torch.no_grad()
    def image_features(self, pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] pixel values -> L2-normalised image features [B, D] (fp32)."""
        x = torch.as_tensor(pixels).to(self.device, self.dtype)
        out = self.model.get_image_features(pixel_values=x)
        feats = out.pooler_output if hasattr(out, "pooler_output") else out
        return torch.nn.functional.normalize(feats.float(), dim=-1)

    @torch.no_grad()
    def prompt_features(self, prompts: list[str]) -> torch.Tensor:
        """Generation prompts -> L2-normalised text features [B, D] (fp32), truncated to CLIP's context."""
        tok = self.tokenizer(prompts, padding=True, truncation=True, max_length=self.max_positions,
                             return_tensors="pt").to(self.device)
        out = self.model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])
        feats = out.pooler_output if hasattr(out, "pooler_output") else out
        return torch.nn.functional.normalize(feats.float(), dim=-1)
