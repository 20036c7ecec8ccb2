"""Is an image usable: the same limits as scoring, and decodable (fully, or by its header)."""

from __future__ import annotations

import io

from agiqa.data.config import ImageLimits
from agiqa.data.images import BadRow, plain

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def check_image(data: bytes, limits: ImageLimits, verify: str = "decode") -> None:
    """BadRow with a stable code when `data` would not decode at scoring (or is over the limits)."""
    from PIL import Image

    if not data:
        raise BadRow("image_empty", "image is empty (0 bytes)")
    if len(data) > limits.max_encoded_bytes:
        raise BadRow("image_too_large", f"image is {len(data)} bytes, over the limit of {limits.max_encoded_bytes}")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > limits.max_image_pixels:
                raise BadRow("image_too_many_pixels", f"image is {w}x{h} pixels, over the limit of "
                                                      f"{limits.max_image_pixels}")
            if verify == "decode":
                im.load()
    except BadRow:
        raise
    except Exception as e:
        raise BadRow("image_undecodable", plain(f"image cannot be decoded: {type(e).__name__}: {e}")) from None
