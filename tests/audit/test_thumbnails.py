"""Audit thumbnails show what the model saw: each image goes through the scorer's reading and
normalising, for bytes, paths and `{bytes, path}` structs alike; missing thumbnails say why."""

from __future__ import annotations

import base64
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from agiqa.audit.collect import thumbnails
from agiqa.storage.local import LocalStore


def _encode(im, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _transparent() -> bytes:
    """Fully transparent pixels over black RGB: the model sees white (composited), `convert` would show black."""
    return _encode(Image.new("RGBA", (40, 20), (0, 0, 0, 0)))


def _rotated() -> bytes:
    """A 40x20 JPEG whose EXIF orientation (6: rotate 90) makes it 20x40 as the model sees it."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encode(Image.new("RGB", (40, 20), (200, 30, 30)), "JPEG", exif=exif.tobytes())


def _sixteen_bit() -> bytes:
    """A 16-bit PNG, black left half, 32768 right half, one pixel at 65535: rescaled to 8 bits the
    right half is mid-grey (as the scorer feeds it), clipped it would be white."""
    import numpy as np

    a = np.zeros((16, 16), np.uint16)
    a[:, 8:] = 32768
    a[15, 15] = 65535
    return _encode(Image.fromarray(a))


def _decoded(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB")


@pytest.mark.parametrize("shape", ["bytes", "path", "struct"])
def test_thumbnails_are_normalised_as_for_scoring_whatever_the_cell_holds(tmp_path, shape):
    images = {"t": _transparent(), "r": _rotated(), "g": _sixteen_bit()}
    root = tmp_path / "shards"
    (root / "files").mkdir(parents=True)
    cells = []
    for k, data in images.items():
        (root / "files" / f"{k}.img").write_bytes(data)
        cells.append(data if shape == "bytes" else f"files/{k}.img" if shape == "path"
                     else {"bytes": None, "path": str(root / "files" / f"{k}.img")})
    pq.write_table(pa.table({"id": list(images), "image": cells}), root / "s.parquet")
    thumbs, missing = thumbnails(LocalStore(), str(root), {"s.parquet": set(images)}, "id", "image")
    assert missing == [] and set(thumbs) == {("s.parquet", k) for k in images}
    assert _decoded(thumbs[("s.parquet", "t")]).getpixel((5, 5)) == (255, 255, 255)  # alpha on white
    assert _decoded(thumbs[("s.parquet", "r")]).size == (20, 40)  # EXIF applied
    grey = _decoded(thumbs[("s.parquet", "g")]).getpixel((11, 5))
    assert all(100 < c < 160 for c in grey), grey  # 16-bit rescaled, not clipped


def test_missing_thumbnails_say_why(tmp_path):
    root = tmp_path / "shards"
    root.mkdir()
    pq.write_table(pa.table({"id": ["a", "b"], "image": [b"not an image", None]}), root / "s.parquet")
    thumbs, missing = thumbnails(LocalStore(), str(root), {"s.parquet": {"a", "b"}}, "id", "image")
    assert thumbs == {} and sorted(missing) == ["1 x image_null", "1 x image_undecodable"]


def test_an_audit_without_images_warns_in_its_summary_line(tmp_path):
    from agiqa.api import audit
    from agiqa.workflows.audit import summary_line

    (tmp_path / "scored").mkdir()
    pq.write_table(pa.table({"id": ["a", "b"], "quality_score": pa.array([1.0, 4.0], pa.float32()),
                             "status": ["ok", "ok"]}), tmp_path / "scored" / "s.parquet")
    result = audit({"input": str(tmp_path / "scored"), "output": str(tmp_path / "r"), "progress": False})
    line = summary_line(result)
    assert "0 thumbnail(s) (WARNING: the scored shards hold no 'image' column" in line and "--images" in line
