"""How every job reads its rows: which columns, and the limits on images and prompts (with the data layer,
so decoding never imports the job configs)."""

from __future__ import annotations

from pydantic import Field

from agiqa.schema import StrictModel


class ColumnsConfig(StrictModel):
    id: str = Field("id", description="Input column holding a row identifier (kept in the output).")
    image: str = Field("image", description="Input column holding encoded image bytes (PNG, JPEG, ...).")
    prompt: str = Field("prompt", description="Input column holding the generation prompt.")


class ImageLimits(StrictModel):
    max_image_pixels: int = Field(
        64_000_000, ge=1, description="Decoded images larger than this are refused (decompression bombs)."
    )
    max_encoded_bytes: int = Field(64 * 1024 * 1024, ge=1, description="Encoded images larger than this are refused.")
    max_prompt_chars: int = Field(4000, ge=1, description="Longer prompts are truncated (and noted) before prompting.")
    raw_prompts: bool = Field(
        False, description="Prompts exactly as given (only null/empty refused), as the reference passes them; "
                           "default: whitespace and control characters normalised and length capped.")
    reference_rgb: bool = Field(
        False, description="Decode as the reference does, `Image.open(...).convert('RGB')`: no EXIF rotation, alpha "
                           "dropped; default: EXIF-rotated, transparency composited on white, 16-bit rescaled.")
