"""WebDataset tars in img2dataset's layout (written with webdataset.TarWriter, sibling Parquet beside them)."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from agiqa.cli import main
from tests.fixtures.state import state


def jpg(seed: int) -> bytes:
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.random.RandomState(seed).rand(16, 12, 3) * 255).astype("uint8")).save(buf, "JPEG")
    return buf.getvalue()


def img2dataset_shard(d, shard: int, n: int, failed=(), broken=(), sibling=True):
    """`NNNNN.tar` + `NNNNN.parquet` as img2dataset writes them: failed downloads only in the Parquet."""
    import webdataset as wds

    rows, images = [], {}
    with wds.TarWriter(str(d / f"{shard:05d}.tar")) as w:
        for i in range(n):
            key = f"{shard:05d}{i:04d}"
            ok = i not in failed
            rows.append({"key": key, "url": f"https://example.com/{key}.jpg", "caption": f"caption {key}",
                         "status": "success" if ok else "failed_to_download",
                         "error_message": None if ok else "HTTP 404", "width": 12 if ok else None})
            if ok:
                images[key] = b"\xff\xd8 truncated" if i in broken else jpg(shard * 100 + i)
                w.write({"__key__": key, "jpg": images[key], "txt": f"caption {key}",
                         "json": json.dumps(rows[-1]).encode()})
    if sibling:
        pq.write_table(pa.Table.from_pylist(rows), d / f"{shard:05d}.parquet")
    return rows, images


def test_img2dataset_layout_keeps_keys_and_metadata_and_reports_failures(tmp_path):
    d = tmp_path / "i2d"
    d.mkdir()
    rows0, im0 = img2dataset_shard(d, 0, 5, failed=(2,), broken=(4,))
    rows1, im1 = img2dataset_shard(d, 1, 3)
    out = tmp_path / "out"
    assert main(["ingest", "--input", str(d), "--output", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.parquet")) == ["00000.parquet", "00001.parquet"]
    got = {r["id"]: r for r in pads.dataset(str(out)).to_table().to_pylist()}
    images = {**im0, **im1}
    good = {r["key"]: r for r in rows0 + rows1 if r["status"] == "success" and r["key"] != "000000004"}
    assert set(got) == set(good)
    for key, r in got.items():
        assert r["image"] == images[key] and r["prompt"] == f"caption {key}"
        assert (r["url"], r["caption"], r["width"], r["status"]) == (
            good[key]["url"], good[key]["caption"], 12, "success")
    report = json.loads((state(out) / "ingest-report.json").read_text())
    skipped = {(s["item"], s["code"]): s["reason"] for s in report["skipped"]}
    assert set(skipped) == {("00000.tar:000000002", "row_without_image"),
                            ("00000.tar:000000004.jpg", "image_undecodable")}
    assert "HTTP 404" in skipped[("00000.tar:000000002", "row_without_image")]


def test_plain_webdataset_truncated_tar_and_samples_without_image(tmp_path):
    import webdataset as wds

    d = tmp_path / "wds"
    d.mkdir()
    with wds.TarWriter(str(d / "a.tar")) as w:
        w.write({"__key__": "k1", "png": jpg(1), "txt": "one", "json": b'{"seed": 1}'})
        w.write({"__key__": "k2", "txt": "caption without an image"})
        w.write({"__key__": "k3", "jpg": jpg(3), "txt": "three"})
    _, im = img2dataset_shard(d, 7, 40, sibling=False)
    whole = (d / "00007.tar").read_bytes()
    (d / "00007.tar").write_bytes(whole[: len(whole) // 2])  # cut short mid-way
    out = tmp_path / "out"
    assert main(["ingest", "--input", str(d), "--output", str(out), "--format", "webdataset"]) == 0
    a = pq.read_table(out / "a.parquet").to_pylist()
    assert [(r["id"], r["prompt"], r["json"]) for r in a] == [("k1", "one", '{"seed": 1}'), ("k3", "three", None)]
    cut = pq.read_table(out / "00007.parquet").to_pylist()
    assert 0 < len(cut) < 40
    assert all(r["image"] == im[r["id"]] for r in cut)  # what was read before the cut is whole
    report = json.loads((state(out) / "ingest-report.json").read_text())
    codes = {(s["item"], s["code"]) for s in report["skipped"]}
    assert ("a.tar:k2", "sample_without_image") in codes and ("00007.tar", "tar_truncated") in codes


def test_keys_repeating_across_tars_are_reported_with_exit_1(tmp_path, capsys):
    import webdataset as wds

    d = tmp_path / "wds"
    d.mkdir()
    for name in ("a", "b"):
        with wds.TarWriter(str(d / f"{name}.tar")) as w:
            w.write({"__key__": "000", "jpg": jpg(0), "txt": "x"})
    assert main(["ingest", "--input", str(d), "--output", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert "ids repeat across shards ('000')" in captured.err
    assert "1 duplicate id" in captured.out


@pytest.mark.parametrize("bad", ["not a tar at all" * 10])
def test_a_file_that_is_not_a_tar_is_reported_not_fatal(tmp_path, bad):
    d = tmp_path / "wds"
    d.mkdir()
    (d / "x.tar").write_text(bad)
    out = tmp_path / "out"
    assert main(["ingest", "--input", str(d), "--output", str(out)]) == 0
    report = json.loads((state(out) / "ingest-report.json").read_text())
    assert [s["code"] for s in report["skipped"]] == ["tar_unreadable"]
    assert pq.read_table(out / "x.parquet").num_rows == 0
