"""Turn one row's raw cells into model inputs, or a clear reason why not.

A bad row never fails its shard: callers catch `BadRow` and mark the row `status=error`.
Everything decodable is normalised to 8-bit RGB the way a viewer would show it: EXIF rotation
applied, transparency composited on white, 16-bit and float images rescaled, CMYK and palette
converted, the first frame of an animation taken.
"""

from __future__ import annotations

import io
import re

from agiqa.data.config import ImageLimits


class BadRow(ValueError):
    """A row that cannot be scored: a stable `code` (for GROUP BY) and the reason, for the `error_code`
    and `error` columns."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def plain(text: str) -> str:
    """An error text without object reprs (`<_io.BytesIO object at 0x...>`), so equal causes read equal."""
    return _OBJECT_REPR.sub("the image bytes", text)


def decode_image(data, limits: ImageLimits):
    """Decode encoded image bytes (or normalise a PIL image) into an RGB PIL image, or raise BadRow with the reason."""
    from PIL import Image, ImageOps

    if data is None:
        raise BadRow("image_null", "image is null")
    if isinstance(data, Image.Image):  # already decoded (the Python API): normalised the same way
        w, h = data.size
        if w * h > limits.max_image_pixels:
            raise BadRow("image_too_many_pixels", f"image is {w}x{h} pixels, over the limit of {limits.max_image_pixels}")
        if w < 1 or h < 1:
            raise BadRow("image_no_pixels", f"image has no pixels ({w}x{h})")
        return data.convert("RGB") if limits.reference_rgb else _to_rgb(ImageOps.exif_transpose(data))
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BadRow("image_not_bytes", f"image is a {type(data).__name__}, not encoded bytes")
    if len(data) == 0:
        raise BadRow("image_empty", "image is empty (0 bytes)")
    if len(data) > limits.max_encoded_bytes:
        raise BadRow("image_too_large", f"image is {len(data)} bytes, over the limit of {limits.max_encoded_bytes}")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size  # from the header: nothing decoded yet
            if w * h > limits.max_image_pixels:
                raise BadRow("image_too_many_pixels", f"image is {w}x{h} pixels, over the limit of {limits.max_image_pixels}")
            if w < 1 or h < 1:
                raise BadRow("image_no_pixels", f"image has no pixels ({w}x{h})")
            im.seek(0)  # first frame of animations
            im.load()
            return im.convert("RGB") if limits.reference_rgb else _to_rgb(ImageOps.exif_transpose(im))
    except BadRow:
        raise
    except Image.DecompressionBombError as e:
        raise BadRow("image_bomb", plain(f"image refused as a decompression bomb: {e}")) from None
    except Exception as e:  # PIL raises many types for corrupt or truncated data
        raise BadRow("image_undecodable", plain(f"image cannot be decoded: {type(e).__name__}: {e}")) from None


def _to_rgb(im):
    import numpy as np
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(a)
        im = Image.fromarray(a.astype(np.uint8), "L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def clean_prompt(text: str | None, limits: ImageLimits) -> str:
    """Normalise a generation prompt (whitespace, control characters, length); BadRow when there is none."""
    if text is None:
        raise BadRow("prompt_null", "prompt is null")
    if not isinstance(text, str):
        text = str(text)
    if limits.raw_prompts:
        if not text.strip():
            raise BadRow("prompt_empty", "prompt is empty")
        return text
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    if not text:
        raise BadRow("prompt_empty", "prompt is empty")
    return text[: limits.max_prompt_chars]


def pad_to_ratio(image, max_ratio: float):
    """(image, note): an image whose long side exceeds `max_ratio` times its short side, padded with
    white on the short side until it does not (a 1x4000 strip is still a valid image; processors
    such as Qwen2-VL's refuse ratios over 200). `note` says what was done, or is None."""
    from PIL import Image

    w, h = image.size
    if max(w, h) <= max_ratio * min(w, h):
        return image, None
    import math

    nw, nh = (w, math.ceil(w / max_ratio)) if w > h else (math.ceil(h / max_ratio), h)
    canvas = Image.new("RGB", (max(nw, w), max(nh, h)), (255, 255, 255))
    canvas.paste(image, ((canvas.width - w) // 2, (canvas.height - h) // 2))
    return canvas, f"image padded from {w}x{h} to {canvas.width}x{canvas.height} (aspect ratio over {max_ratio:g})"
