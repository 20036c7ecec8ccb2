"""What the input's listing and first shard already show is refused before any model loads; inputs
made by Hugging Face `datasets` (no id column, `{bytes, path}` images) score and filter end to end."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from agiqa.errors import ConfigError
from tests.fixtures.shards import png, write_shard
from tests.runner.helpers import fake_config


def _datasets_parquet(path, n=6, by_path=False):
    """A Parquet file written by the `datasets` library itself, with its `Image()` feature: images
    given in memory (stored as bytes, no path) or as files (stored as their paths, no bytes)."""
    datasets = pytest.importorskip("datasets")
    import io

    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if by_path:
        (path.parent.parent / "files").mkdir(exist_ok=True)
        images = []
        for i in range(n):
            (f := path.parent.parent / "files" / f"img{i}.png").write_bytes(png(i, 12, 10))
            images.append(str(f))
    else:
        images = [Image.open(io.BytesIO(png(i, 12, 10))) for i in range(n)]
    ds = datasets.Dataset.from_dict({"image": images, "prompt": [f"a cat, no. {i}" for i in range(n)]},
                                    features=datasets.Features({"image": datasets.Image(),
                                                                "prompt": datasets.Value("string")}))
    datasets.disable_progress_bars()
    ds.to_parquet(str(path))
    return path


@pytest.mark.parametrize("by_path", [False, True], ids=["bytes", "paths"])
def test_a_datasets_image_parquet_scores_with_stable_ids_and_paths_kept_then_filters(tmp_path, by_path):
    from agiqa.api import filter as filter_
    from agiqa.api import score

    src = _datasets_parquet(tmp_path / "in" / "train-00000.parquet", by_path=by_path)
    assert "id" not in pq.read_schema(src).names and pq.read_schema(src).field("image").type.num_fields == 2
    summary = score(fake_config(tmp_path / "in", tmp_path / "out"))
    assert summary.rows_by_status == {"ok": 6}
    out = pq.read_table(tmp_path / "out" / "train-00000.parquet")
    assert out.column("id").to_pylist() == [f"train-00000.parquet#{i}" for i in range(6)]
    paths = [r["path"] for r in pq.read_table(src).column("image").to_pylist()]
    assert out.column("image_path").to_pylist() == paths and (all(paths) if by_path else not any(paths))
    assert score(fake_config(tmp_path / "in", tmp_path / "out")).shards_skipped == 1  # ids as before
    kept = filter_({"input": str(tmp_path / "out"), "output": str(tmp_path / "sel"), "runner": {"kind": "local"},
                    "rules": ["top_fraction quality_score=0.5"], "progress": False})
    assert kept.failed == [] and kept.rows_by_status == {"kept": 3, "dropped": 3}


def test_a_cascade_over_an_input_without_ids_routes_by_the_same_synthesised_ids(tmp_path):
    from agiqa.api import score
    from tests.stages.test_cascade import cascade_config

    _datasets_parquet(tmp_path / "in" / "a.parquet", n=8)
    summary = score(cascade_config(tmp_path / "in", tmp_path / "out", {"top_fraction": {"quality": 0.5}}))
    assert summary.failed == [] and summary.rows_by_status == {"ok": 4, "prefiltered": 4}


@pytest.mark.parametrize(("columns", "message"), [
    ({"prompt": "prompt_text"}, r"no prompt column 'prompt_text'; did you mean 'caption'\? \(--prompt-column caption\)"),
    ({"id": "key"}, r"no id column 'key'; did you mean 'uid'\?"),
    ({"image": "picture"}, r"no image column 'picture'; did you mean 'jpg'\?"),
])
def test_a_missing_column_is_refused_before_the_model_loads_with_a_did_you_mean(tmp_path, columns, message):
    import pyarrow as pa

    from agiqa.api import score

    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"uid": ["a"], "jpg": [png(0)], "caption": ["a cat"]}), tmp_path / "in" / "s.parquet")
    cfg = fake_config(tmp_path / "in", tmp_path / "out").model_copy(
        update={"columns": fake_config(tmp_path, tmp_path).columns.model_validate(
            {"image": "jpg", "prompt": "caption", "id": "uid", **columns})})
    with pytest.raises(ConfigError, match=message):
        score(cfg)
    assert not (tmp_path / "out").exists()


def test_a_table_given_as_input_is_refused_in_one_line_naming_ingest(tmp_path, capsys):
    from agiqa.cli import main

    table = tmp_path / "prompts.csv"
    table.write_text("file_name,prompt\na.png,a cat\n")
    rc = main(["score", "--input", str(table), "--output", str(tmp_path / "out"), "--method", "fake",
               "--runner", "local"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "is a table, not Parquet shards" in err[0] and "agiqa ingest" in err[0]


def test_zero_byte_shards_are_refused_from_the_listing_and_the_rest_scored(tmp_path):
    from agiqa.api import score

    write_shard(tmp_path / "in" / "a.parquet", [1, 2], ["x", "y"])
    (tmp_path / "in" / "empty.parquet").write_bytes(b"")
    summary = score(fake_config(tmp_path / "in", tmp_path / "out"))
    assert summary.shards_done == 1
    assert summary.failed == [{"shard": "empty.parquet", "reason": "refused: an empty (zero-byte) file, not Parquet",
                               "attempts": 0}]
