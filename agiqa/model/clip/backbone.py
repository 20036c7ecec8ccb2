"""The frozen CLIP behind CLIP-AGIQA, loaded from a local folder in the released layout.

A folder such as `openai/clip-vit-base-patch16` (config.json with `model_type: clip`, weights,
tokenizer files, preprocessor_config.json) or one written by `agiqa make-tiny-model --method
clip-agiqa` loads through the same transformers classes. Nothing is downloaded.

Preprocessing is the paper's test transform (resize the short side, bicubic; centre crop; CLIP
mean/std): resize and crop one image at a time on the stage's prepare pool (`PilClipTransform`, or the
folder's own `CLIPImageProcessor` for settings it does not reproduce), the normalisation batched on
the model's device by `image_features`.
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
        self._pil_transform = PilClipTransform.from_processor(self.processor)
        self.max_positions = self.model.config.text_config.max_position_embeddings

    @property
    def feature_dim(self) -> int:
        return int(self.model.config.projection_dim)

    @property
    def text_width(self) -> int:
        return int(self.model.config.text_config.hidden_size)

    def preprocess(self, image) -> np.ndarray:
        """One RGB PIL image -> [3, S, S] model input (CPU work; any thread): uint8 pixels resized and
        cropped, to be normalised by `image_features` on the model's device, or float32 pixel values.

        The standard CLIP transform runs in PIL + numpy (`PilClipTransform`: 1.7-2.2x the image processor's
        rate on one image at a time; equal within a grey level on natural images, a few on pure noise) and
        leaves the normalisation to the batch on the device (a quarter of the bytes to stack and copy, and
        numpy's per-pixel normalise cost as much as decoding a small image); other processor settings go
        through the processor itself."""
        if self._pil_transform is not None:
            return self._pil_transform.pixels(image)
        return self.processor(images=image, return_tensors="np")["pixel_values"][0]

    @torch.no_grad()
    def image_features(self, pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
        """[B, 3, S, S] `preprocess` outputs (uint8 pixels or float pixel values) -> L2-normalised image
        features [B, D] (fp32)."""
        x = torch.as_tensor(pixels).to(self.device, non_blocking=True)
        if x.dtype == torch.uint8:
            x = self._pil_transform.normalize(x)
        x = x.to(self.dtype)
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


class PilClipTransform:
    """CLIP's test transform (resize the short side, bicubic; centre crop; scale; normalise) in PIL + numpy.

    It is the transform OpenAI's CLIP and the CLIP-AGIQA code apply (torchvision on PIL images);
    transformers' `CLIPImageProcessor` computes the same through its own backend at about half the
    rate per image, which on CPU made preprocessing, not decoding, the scoring floor
    (docs/clip-agiqa.md). Built only for processor settings it reproduces; otherwise `None`.
    """

    def __init__(self, short_side: int, crop: tuple[int, int], mean, std):
        self.short_side, self.crop = short_side, crop
        self.mean = np.asarray(mean, np.float32) * 255.0
        self.inv_std = 1.0 / (np.asarray(std, np.float32) * 255.0)

    @classmethod
    def from_processor(cls, p) -> PilClipTransform | None:
        size, crop = getattr(p, "size", None), getattr(p, "crop_size", None)
        short = getattr(size, "shortest_edge", None) if size is not None else None
        ch, cw = (getattr(crop, "height", None), getattr(crop, "width", None)) if crop is not None else (None, None)
        standard = (getattr(p, "do_resize", False) and getattr(p, "do_center_crop", False) and short and ch and cw
                    and getattr(p, "do_rescale", False) and abs(float(p.rescale_factor) - 1 / 255) < 1e-9
                    and getattr(p, "do_normalize", False) and int(getattr(p, "resample", -1)) == 3)
        return cls(int(short), (int(ch), int(cw)), p.image_mean, p.image_std) if standard else None

    def __call__(self, image) -> np.ndarray:
        """float32 [3, S, S] pixel values, as the image processor gives them."""
        a = np.asarray(self.pixels(image).transpose(1, 2, 0), dtype=np.float32)
        return np.ascontiguousarray(((a - self.mean) * self.inv_std).transpose(2, 0, 1))

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 [B, 3, S, S] (any device) -> float32 pixel values: the same float32 arithmetic as `__call__`."""
        mean = torch.as_tensor(self.mean, device=pixels.device).view(1, 3, 1, 1)
        inv_std = torch.as_tensor(self.inv_std, device=pixels.device).view(1, 3, 1, 1)
        return (pixels.float() - mean) * inv_std

    def pixels(self, image) -> np.ndarray:
        """uint8 [3, S, S]: the image resized and cropped, not yet normalised."""
        from PIL import Image

        if image.mode != "RGB":
            image = image.convert("RGB")
        w, h = image.size
        if w <= h:
            size = (self.short_side, int(self.short_side * h / w))
        else:
            size = (int(self.short_side * w / h), self.short_side)
        if size != (w, h):
            image = image.resize(size, Image.BICUBIC)
        ch, cw = self.crop
        left, top = (size[0] - cw) // 2, (size[1] - ch) // 2  # as the image processor (floor)
        if (left, top, cw, ch) != (0, 0, *size):
            image = image.crop((left, top, left + cw, top + ch))
        return np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1))
