"""Hugging Face `datasets` Parquet ({bytes, path} image structs) and path columns: ingested, and scored
directly without an ingest step (equal scores); http(s) URL columns refused before any work."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

import agiqa.testing.fakes  # noqa: F401 - registers method `fake`
from agiqa.api import ingest, score
from agiqa.errors import ConfigError
from tests.fixtures.shards import png

STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def hf_shard(d, name="data/train-00000-of-00001.parquet"):
    """As `datasets.Dataset.to_parquet` writes an Image() column: bytes inline, or only a path."""
    (d / "data" / "pics").mkdir(parents=True)
    on_disk = png(5, 10, 10)
    (d / "data" / "pics" / "p5.png").write_bytes(on_disk)
    images = [{"bytes": png(i, 10, 10), "path": f"orig/{i}.png"} for i in range(4)]
    images += [{"bytes": None, "path": "pics/p5.png"}, {"bytes": None, "path": "pics/missing.png"}, None]
    t = pa.table({"image": pa.array(images, STRUCT), "text": [f"prompt {i}" for i in range(7)],
                  "label": list(range(7))})
    pq.write_table(t, d / name)
    return [im["bytes"] if im and im["bytes"] else on_disk if im and im["path"] == "pics/p5.png" else None
            for im in images]


def _score(inp, out, **extra):
    return score({"input": str(inp), "output": str(out), "method": {"name": "fake"}, "runner": {"kind": "local"},
                  "progress": False, **extra})


def _rows(out):
    return pads.dataset(str(out)).to_table().to_pylist()


def test_hf_struct_parquet_is_ingested_and_scored_directly_with_equal_scores(tmp_path):
    src = tmp_path / "hf"
    expected = hf_shard(src)
    summary = ingest({"input": str(src), "output": str(tmp_path / "ingested"), "prompt_column": "text"})
    assert summary.ok and summary.rows_written == 5
    assert {(s.item, s.code) for s in summary.skipped} == {
        ("data/train-00000-of-00001.parquet#5", "image_missing"), ("data/train-00000-of-00001.parquet#6", "image_null")}
    rows = _rows(tmp_path / "ingested")
    assert [(r["id"], r["image"], r["prompt"], r["label"]) for r in rows] == [
        (f"data/train-00000-of-00001.parquet#{i}", expected[i], f"prompt {i}", i) for i in range(5)]

    # scored straight from the struct column (paths relative to the shard), and from the ingested copy
    direct = _score(src, tmp_path / "direct", columns={"prompt": "text"})
    assert not direct.shards_failed
    from_ingest = _score(tmp_path / "ingested", tmp_path / "scored")
    d = {r["label"]: r for r in _rows(tmp_path / "direct")}
    s = {r["label"]: r for r in _rows(tmp_path / "scored")}
    assert [d[i]["quality_score"] for i in range(5)] == [s[i]["quality_score"] for i in range(5)]
    assert all(d[i]["quality_score"] is not None for i in range(5))
    assert (d[5]["error_code"], d[6]["error_code"]) == ("image_missing", "image_null")
    assert not from_ingest.shards_failed


def test_path_column_relative_to_the_shard_and_absolute(tmp_path):
    inp = tmp_path / "in"
    (inp / "sub" / "imgs").mkdir(parents=True)
    (inp / "sub" / "imgs" / "a.png").write_bytes(png(1))
    (tmp_path / "elsewhere.png").write_bytes(png(2))
    pq.write_table(pa.table({"id": ["a", "b", "c"], "prompt": ["x", "y", "z"],
                             "image": ["imgs/a.png", str(tmp_path / "elsewhere.png"), "imgs/none.png"]}),
                   inp / "sub" / "s.parquet")
    pq.write_table(pa.table({"id": ["a", "b"], "prompt": ["x", "y"], "image": [png(1), png(2)]}),
                   tmp_path / "bytes.parquet")
    _score(inp, tmp_path / "out")
    _score(tmp_path / "bytes.parquet", tmp_path / "out-bytes")
    got = {r["id"]: r for r in _rows(tmp_path / "out")}
    want = {r["id"]: r for r in _rows(tmp_path / "out-bytes")}
    assert got["a"]["quality_score"] == want["a"]["quality_score"] is not None
    assert got["b"]["quality_score"] == want["b"]["quality_score"] is not None
    assert got["c"]["error_code"] == "image_missing" and "imgs/none.png" in got["c"]["error"]


def test_http_url_column_is_refused_before_any_work(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    pq.write_table(pa.table({"id": ["a"], "prompt": ["x"], "image": ["https://example.com/a.jpg"]}),
                   inp / "s.parquet")
    with pytest.raises(ConfigError, match=r"download them first \(e.g. `img2dataset"):
        _score(inp, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="http"):
        ingest({"input": str(inp), "output": str(tmp_path / "out2")})


def test_cli_url_refusal_is_one_line_exit_2(tmp_path, capsys):
    from agiqa.cli import main

    inp = tmp_path / "in"
    inp.mkdir()
    pq.write_table(pa.table({"id": ["a"], "prompt": ["x"], "image": ["http://example.com/a.jpg"]}), inp / "s.parquet")
    rc = main(["score", "--input", str(inp), "--output", str(tmp_path / "o"), "--model", str(tmp_path / "nomodel"),
               "--runner", "local"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "http(s) URLs" in err[0]
