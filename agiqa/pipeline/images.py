"""Turn one row's raw cells into model inputs, or a clear reason why not.

A bad row never fails its shard: callers catch `BadRow` and mark the row `status=error`.
"""

from __future__ import annotations

import io

from agiqa.config import ImageLimits


class BadRow(ValueError):
    """A row that cannot be scored; the message is the reason written to the `error` column."""


def decode_image(data: bytes | None, limits: ImageLimits):
    """Decode encoded image bytes into an RGB PIL image, or raise BadRow with the reason."""
    from PIL import Image

    if data is None:
        raise BadRow("image is null")
    if len(data) == 0:
        raise BadRow("image is empty (0 bytes)")
    if len(data) > limits.max_encoded_bytes:
        raise BadRow(f"image is {len(data)} bytes, over the limit of {limits.max_encoded_bytes}")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > limits.max_image_pixels:
                raise BadRow(f"image is {w}x{h} pixels, over the limit of {limits.max_image_pixels}")
            im.load()
            return im.convert("RGB")
    except BadRow:
        raise
    except Exception as e:  # PIL raises many types for corrupt data
        raise BadRow(f"image cannot be decoded: {type(e).__name__}: {e}") from None


def clean_prompt(text: str | None, limits: ImageLimits) -> str:
    """Normalise a generation prompt; raise BadRow when there is none."""
    if text is None:
        raise BadRow("prompt is null")
    text = " ".join(str(text).split())
    if not text:
        raise BadRow("prompt is empty")
    return text[: limits.max_prompt_chars]
