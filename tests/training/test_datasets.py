"""prepare-data: each public layout loads into one row shape, splits reproducibly, and writes shards."""

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from PIL import Image

from agiqa.training import datasets as D


def _png(path, color=(200, 30, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), color).save(path)


def _csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")


def _prepare(*args):
    return subprocess.run([sys.executable, "-m", "agiqa", "prepare-data", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def _read(folder):
    return [r for f in sorted(folder.rglob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_aigciqa2023_is_rescaled_from_0_100_to_0_5(tmp_path):
    _png(tmp_path / "images" / "a.png")
    _csv(tmp_path / "data.csv", ["name", "prompt", "mos_quality", "mos_authenticity", "mos_correspondence"],
         [["a.png", "a cat", 80, 50, 100]])
    (row,) = D.load_aigciqa2023(tmp_path / "data.csv", tmp_path / "images")
    assert (row["quality_mos"], row["authenticity_mos"], row["correspondence_mos"]) == (4.0, 2.5, 5.0)


def test_agiqa3k_align_is_correspondence_and_bad_mos_is_named(tmp_path):
    _csv(tmp_path / "data.csv", ["name", "prompt", "mos_quality", "mos_align"], [["a.png", "a cat", 3.1, 2.2]])
    (row,) = D.load_agiqa3k(tmp_path / "data.csv", tmp_path)
    assert row["correspondence_mos"] == 2.2 and "authenticity_mos" not in row
    _csv(tmp_path / "bad.csv", ["name", "prompt", "mos_quality", "mos_align"], [["a.png", "a cat", "n/a", 2]])
    with pytest.raises(D.DatasetError, match=r"bad.csv:2.*'n/a'"):
        D.load_agiqa3k(tmp_path / "bad.csv", tmp_path)
    _csv(tmp_path / "cols.csv", ["name", "prompt"], [["a.png", "a cat"]])
    with pytest.raises(D.DatasetError, match="missing column"):
        D.load_agiqa3k(tmp_path / "cols.csv", tmp_path)


def test_aigiqa20k_official_files_give_the_split(tmp_path):
    for split, name in D.AIGIQA20K_SPLITS.items():
        _csv(tmp_path / name, ["name", "prompt", "mos"], [[f"{split}{i}.png", "p", 2.5] for i in range(2)])
    rows = D.load_aigiqa20k(tmp_path, tmp_path)
    assert sorted({r["split"] for r in rows}) == ["test", "train", "val"]
    assert all(r["id"].startswith(r["split"]) for r in rows)
    # an official split survives split_rows untouched
    assert [r["split"] for r in D.split_rows([dict(r) for r in rows], {"train": 1.0}, seed=0)] == \
        [r["split"] for r in rows]


def test_reference_records_parse_join_labels_and_remap(tmp_path):
    _png(tmp_path / "imgs" / "x.png")
    recs = [{"id": "7", "image": "/home/authors/data/imgs/x.png", "response_0": "own words",
             "conversations": [
                 {"role": "user", "content": "<image>\nThe prompt is 'a red fox'. Describe its quality."},
                 {"role": "assistant", "content": "A sharp photo."},
                 {"role": "user", "content": "Rate it."}, {"role": "assistant", "content": "good"}]}]
    (tmp_path / "train.json").write_text(json.dumps(recs))
    _csv(tmp_path / "data.csv", ["name", "prompt", "mos_quality", "mos_authenticity", "mos_correspondence"],
         [["x.png", "a red fox", 70, 60, 90]])
    rows = D.load_records({"train": tmp_path / "train.json"}, "quality")
    assert rows[0]["prompt"] == "a red fox" and rows[0]["quality_teacher"] == "A sharp photo."
    assert rows[0]["quality_response"] == "own words" and rows[0]["split"] == "train"
    rows = D.join_labels(rows, D.load_aigciqa2023(tmp_path / "data.csv", tmp_path))
    assert rows[0]["quality_mos"] == 3.5
    rows = D.remap(rows, [("/home/authors/data", str(tmp_path))])
    report = D.write_split_shards(rows, tmp_path / "out")
    assert report == {"rows": {"train": 1}, "missing": []}
    (out,) = _read(tmp_path / "out" / "train")
    assert out["image"] == (tmp_path / "imgs" / "x.png").read_bytes()


def test_split_is_seeded_deterministic_and_can_group_by_prompt():
    rows = [{"id": str(i), "prompt": f"p{i % 10}"} for i in range(100)]
    a = D.split_rows([dict(r) for r in rows], {"train": 0.7, "val": 0.1, "test": 0.2}, seed=5)
    b = D.split_rows([dict(r) for r in rows], {"train": 0.7, "val": 0.1, "test": 0.2}, seed=5)
    c = D.split_rows([dict(r) for r in rows], {"train": 0.7, "val": 0.1, "test": 0.2}, seed=6)
    assert [r["split"] for r in a] == [r["split"] for r in b] != [r["split"] for r in c]
    assert sum(r["split"] == "test" for r in a) == 20
    g = D.split_rows([dict(r) for r in rows], {"train": 0.7, "val": 0.1, "test": 0.2}, seed=5, by="prompt")
    by_prompt = {}
    for r in g:
        by_prompt.setdefault(r["prompt"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_prompt.values())
    assert {s for v in by_prompt.values() for s in v} == {"train", "val", "test"}


def test_cli_writes_split_shards_and_reports_missing_images(tmp_path):
    for i in range(9):
        _png(tmp_path / "ds" / f"{i}.png", (i * 20, 0, 0))
    _csv(tmp_path / "ds" / "data.csv", ["name", "prompt", "mos_quality", "mos_align"],
         [[f"{i}.png", f"prompt {i}", i / 2, 5 - i / 2] for i in range(10)])  # 9.png does not exist
    r = _prepare("--format", "agiqa3k", "--root", tmp_path / "ds", "--output", tmp_path / "out",
                 "--split", "train=0.6,val=0.2,test=0.2", "--seed", "1", "--shard-rows", "2")
    assert r.returncode == 0, r.stderr
    assert "1 row(s) left out" in r.stdout
    report = json.loads((tmp_path / "out" / "_prepare_report.json").read_text())
    assert [m["id"] for m in report["missing"]] == ["9.png"]
    rows = _read(tmp_path / "out")
    assert len(rows) == 9 and sum(report["rows"].values()) == 9
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    assert len(list((tmp_path / "out" / "train").glob("part-*.parquet"))) == 3  # 6 rows, 2 per shard
    assert all(Image.open(__import__("io").BytesIO(r["image"])).size == (16, 16) for r in rows)


def test_cli_refuses_bad_arguments_with_one_line(tmp_path):
    r = _prepare("--format", "records", "--output", tmp_path / "o")
    assert r.returncode == 2 and "needs --aspect" in r.stderr and "Traceback" not in r.stderr
    r = _prepare("--format", "agiqa3k", "--root", tmp_path, "--output", tmp_path / "o")
    assert r.returncode == 2 and "data.csv: no such file" in r.stderr and "Traceback" not in r.stderr
    r = _prepare("--format", "agiqa3k", "--root", tmp_path, "--split", "train=x", "--output", tmp_path / "o")
    assert r.returncode == 2 and "--split" in r.stderr
