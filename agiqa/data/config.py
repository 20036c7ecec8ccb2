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
    raw_prompts: bool | None = Field(
        None, description="Prompts exactly as given (only null/empty refused), as the reference passes them; false: "
                          "whitespace and control characters normalised and length capped. Default (null): true when "
                          "every head the job scores with was imported from the reference, else false.")
    reference_rgb: bool | None = Field(
        None, description="Decode as the reference does, `Image.open(...).convert('RGB')`: no EXIF rotation, alpha "
                          "dropped; false: EXIF-rotated, transparency composited on white, 16-bit rescaled. Default "
                          "(null): true when every head the job scores with was imported from the reference.")

    def for_method(self, reference_heads: bool) -> ImageLimits:
        """These limits with the unset choices made: the reference's input handling for heads imported from
        the reference (their scores were learnt on it), agiqa's otherwise. Set values always win."""
        return self.model_copy(update={"raw_prompts": reference_heads if self.raw_prompts is None else self.raw_prompts,
                                       "reference_rgb": reference_heads if self.reference_rgb is None
                                       else self.reference_rgb})

    def handling(self) -> str:
        """Which input handling these (resolved) limits give, in words, for the job summary."""
        if self.raw_prompts and self.reference_rgb:
            return "reference (prompts as given, convert('RGB') decode)"
        if not self.raw_prompts and not self.reference_rgb:
            return "agiqa (prompts cleaned, EXIF-aware decode)"
        return f"mixed (raw_prompts={bool(self.raw_prompts)}, reference_rgb={bool(self.reference_rgb)})"
