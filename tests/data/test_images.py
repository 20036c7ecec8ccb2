"""Per-row image and prompt handling: every odd input is normalised or refused with a reason."""

import io

import numpy as np
import pytest
from PIL import Image

from agiqa.config import ImageLimits
from agiqa.data.images import BadRow, clean_prompt, decode_image

LIM = ImageLimits()


def enc(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def rgb(w=40, h=30, color=(200, 10, 10)):
    return Image.new("RGB", (w, h), color)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF"])
def test_common_formats_decode_to_rgb(fmt):
    im = decode_image(enc(rgb(), fmt), LIM)
    assert im.mode == "RGB" and im.size == (40, 30)


def test_cmyk_palette_and_16bit_are_normalised():
    assert decode_image(enc(rgb().convert("CMYK"), "JPEG"), LIM).mode == "RGB"
    assert decode_image(enc(rgb().convert("P"), "PNG"), LIM).mode == "RGB"
    ramp = (np.arange(40 * 30, dtype=np.uint16).reshape(30, 40) * 50).astype(np.uint16)
    im16 = decode_image(enc(Image.fromarray(ramp), "PNG"), LIM)
    arr = np.asarray(im16)
    assert im16.mode == "RGB" and arr.min() == 0 and arr.max() == 255
    assert 100 < arr[15, 0, 0] < 160  # mid-ramp is mid-grey: rescaled, not clipped to white


def test_alpha_is_composited_on_white():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))  # fully transparent red
    out = np.asarray(decode_image(enc(rgba, "PNG"), LIM))
    assert (out == 255).all()


def test_exif_rotation_is_applied():
    im = rgb(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    out = decode_image(enc(im, "JPEG", exif=exif), LIM)
    assert out.size == (20, 40)


def test_animated_gif_takes_first_frame():
    frames = [rgb(color=(255, 0, 0)), rgb(color=(0, 0, 255))]
    data = enc(frames[0], "GIF", save_all=True, append_images=frames[1:])
    out = np.asarray(decode_image(data, LIM))
    assert out[0, 0, 0] > 200 and out[0, 0, 2] < 50


@pytest.mark.parametrize("data,reason", [
    (None, "null"), (b"", "empty"), (b"not an image at all", "cannot be decoded"), (123, "not encoded bytes"),
])
def test_bad_bytes_are_refused_with_reason(data, reason):
    with pytest.raises(BadRow, match=reason):
        decode_image(data, LIM)


def test_truncated_image_is_refused():
    data = enc(Image.fromarray((np.random.RandomState(0).rand(64, 64, 3) * 255).astype("uint8")), "PNG")
    with pytest.raises(BadRow, match="cannot be decoded"):
        decode_image(data[: len(data) // 2], LIM)


def test_pixel_limit_checked_from_header_before_decoding():
    big = enc(Image.new("L", (3000, 3000)), "PNG")  # tiny file, 9 MP
    with pytest.raises(BadRow, match="over the limit"):
        decode_image(big, ImageLimits(max_image_pixels=1_000_000))
    with pytest.raises(BadRow, match="bytes, over the limit"):
        decode_image(big, ImageLimits(max_encoded_bytes=100))


def test_prompts():
    assert clean_prompt("  a  red\tcircle\n", LIM) == "a red circle"
    assert clean_prompt("un chat rouge — 赤い猫 🐱", LIM) == "un chat rouge — 赤い猫 🐱"
    assert len(clean_prompt("x" * 10_000, ImageLimits(max_prompt_chars=50))) == 50
    assert clean_prompt("a\x00b", LIM) == "a b"
    for bad, why in ((None, "null"), ("", "empty"), ("  \n ", "empty")):
        with pytest.raises(BadRow, match=why):
            clean_prompt(bad, LIM)


def test_reference_decoding_and_raw_prompts_are_opt_in():
    """The reference opens images with `Image.open(...).convert("RGB")` (no EXIF rotation, alpha dropped,
    not composited on white) and passes prompts as given; agiqa normalises both unless asked not to."""
    import io

    from PIL import Image

    from agiqa.data.config import ImageLimits
    from agiqa.data.images import clean_prompt, decode_image

    rgba = Image.new("RGBA", (4, 2), (10, 20, 30, 0))  # fully transparent dark pixels
    buf = io.BytesIO()
    rgba.save(buf, "PNG")
    assert decode_image(buf.getvalue(), ImageLimits()).getpixel((0, 0)) == (255, 255, 255)
    assert decode_image(buf.getvalue(), ImageLimits(reference_rgb=True)).getpixel((0, 0)) == (10, 20, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    buf = io.BytesIO()
    Image.new("RGB", (4, 2)).save(buf, "JPEG", exif=exif.tobytes())
    assert decode_image(buf.getvalue(), ImageLimits()).size == (2, 4)
    assert decode_image(buf.getvalue(), ImageLimits(reference_rgb=True)).size == (4, 2)
    assert clean_prompt("a  cat\n ", ImageLimits()) == "a cat"
    assert clean_prompt("a  cat\n ", ImageLimits(raw_prompts=True)) == "a  cat\n "
