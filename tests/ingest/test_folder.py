"""`agiqa ingest` of a folder of images with a CSV/JSONL table or .txt sidecars, end to end (then scored)."""

from __future__ import annotations

import json

import pyarrow.dataset as pads
import pytest

from agiqa.cli import main
from tests.fixtures.shards import png
from tests.fixtures.state import state


def _folder(tmp_path, n=7):
    d = tmp_path / "images"
    files = {}
    for i in range(n):
        rel = f"{'sub/' if i % 2 else ''}img{i}.png"
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        files[rel] = png(i, 12, 10)
        (d / rel).write_bytes(files[rel])
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    return d, files


def _read(out):
    return {r["id"]: r for r in pads.dataset(str(out), format="parquet").to_table().to_pylist()}


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_folder_with_table_keeps_columns_and_reports_what_does_not_match(tmp_path, kind, capsys):
    d, files = _folder(tmp_path)
    listed = [rel for rel in sorted(files) if rel != "img6.png"] + ["gone.png", "broken.png"]
    recs = [{"file_name": rel, "prompt": f"a cat, no. {k}", "generator": "sdxl", "seed": k}
            for k, rel in enumerate(listed)]
    table = tmp_path / f"prompts.{kind}"
    if kind == "csv":
        table.write_text("file_name,prompt,generator,seed\n" + "".join(
            f'{r["file_name"]},"{r["prompt"]}",{r["generator"]},{r["seed"]}\n' for r in recs))
    else:
        table.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = tmp_path / "out"
    rc = main(["ingest", "--input", str(d), "--output", str(out), "--table", str(table), "--rows-per-shard", "2"])
    assert rc == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "6 rows" in line and "1 image_undecodable" in line and "1 image_without_row" in line
    rows = _read(out)
    expected = {r["file_name"]: r for r in recs if r["file_name"] in files}
    assert set(rows) == set(expected)  # id = the relative path; img6 (no row), gone, broken left out
    for rel, r in rows.items():
        assert r["image"] == files[rel]  # the file's bytes, untouched
        assert (r["prompt"], r["generator"], r["seed"]) == (expected[rel]["prompt"], "sdxl", expected[rel]["seed"])
    report = json.loads((state(out) / "ingest-report.json").read_text())
    assert {(s["item"], s["code"]) for s in report["skipped"]} == {
        ("img6.png", "image_without_row"), ("gone.png", "row_without_image"), ("broken.png", "image_undecodable")}
    shards = sorted(p.name for p in out.glob("*.parquet"))
    assert shards == [f"part-{k:05d}.parquet" for k in range(4)]  # 7 matched rows (broken.png too), 2 per shard


def test_sidecar_prompts_and_scoring_the_output(tmp_path):
    from agiqa.api import score
    from agiqa.testing.fakes import fake_score

    d, files = _folder(tmp_path, n=4)
    (d / "broken.png").unlink()
    (d / "img0.txt").write_text("three red circles\n")
    (d / "sub" / "img1.txt").write_text("a blue square")
    out = tmp_path / "out"
    assert main(["ingest", "--input", str(d), "--output", str(out)]) == 0
    rows = _read(out)
    assert {k: r["prompt"] for k, r in rows.items()} == {
        "img0.png": "three red circles", "sub/img1.png": "a blue square", "img2.png": None, "sub/img3.png": None}
    summary = score({"input": str(out), "output": str(tmp_path / "scored"), "method": {"name": "fake"},
                     "runner": {"kind": "local"}, "progress": False, "aspects": ["quality", "correspondence"]})
    assert not summary.shards_failed
    scored = _read(tmp_path / "scored")
    import io

    from PIL import Image
    im = Image.open(io.BytesIO(files["img0.png"])).convert("RGB")
    assert scored["img0.png"]["quality_score"] == pytest.approx(fake_score(im, "three red circles", "quality"))
    assert scored["img2.png"]["status"] == "partial"  # no prompt: quality scored, correspondence not


def test_duplicate_file_names_in_the_table_are_refused_before_work(tmp_path, capsys):
    d, _ = _folder(tmp_path, n=2)
    table = tmp_path / "t.csv"
    table.write_text("file,caption\nimg0.png,a\nimg0.png,b\nsub/img1.png,c\n")
    out = tmp_path / "out"
    assert main(["ingest", "--input", str(d), "--output", str(out), "--table", str(table)]) == 2
    err = capsys.readouterr().err
    assert "duplicate file names" in err and "'img0.png'" in err and len(err.strip().splitlines()) == 1
    assert not list(out.glob("*.parquet"))
