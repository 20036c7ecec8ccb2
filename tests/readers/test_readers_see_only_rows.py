"""Third-party readers pointed at an agiqa output see the job's rows and nothing else.

Each output kind (plain score, cascade, filter, ingest) is written by the real job; each reader is
the real library with its default arguments, the ways the docs and users call them: DuckDB's
`read_parquet(OUT)` and `read_parquet('OUT/**/*.parquet')`, polars' `read_parquet(OUT)` and
`scan_parquet('OUT/**/*.parquet')`, `pyarrow.dataset`, and `datasets.load_dataset("parquet",
data_dir=OUT)`, and Spark's `read.parquet(OUT)` (with `recursiveFileLookup`, as agiqa's shards
nest in folders that are not `key=value` partitions). The expected row count is the job's input, counted from the input files. A
manifest, summary or cascade pass left under OUT makes some of them fail or over-count (polars
refuses any non-Parquet file; DuckDB reads hidden folders).
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from tests.fixtures.shards import png
from tests.fixtures.state import state
from tests.runner.helpers import fake_config

duckdb = pytest.importorskip("duckdb")
polars = pytest.importorskip("polars")
datasets = pytest.importorskip("datasets")


def _counts(out, tmp_path) -> dict[str, int]:
    import pyarrow.dataset as pads

    con = duckdb.connect()
    datasets.disable_progress_bars()
    return {
        "duckdb dir": con.execute(f"select count(*) from read_parquet('{out}')").fetchone()[0],
        "duckdb glob": con.execute(f"select count(*) from read_parquet('{out}/**/*.parquet')").fetchone()[0],
        "polars read": polars.read_parquet(str(out)).height,
        "polars scan glob": polars.scan_parquet(f"{out}/**/*.parquet").collect().height,
        "pyarrow.dataset": pads.dataset(str(out), format="parquet").count_rows(),
        "datasets": datasets.load_dataset("parquet", data_dir=str(out), split="train",
                                          cache_dir=str(tmp_path / "hf-cache")).num_rows,
    }


def _rows_in(root) -> int:
    return sum(pq.read_metadata(p).num_rows for p in root.rglob("*.parquet"))


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def test_a_score_output_reads_as_its_rows_in_every_reader(small_shards, tmp_path):
    from agiqa.api import score

    out = tmp_path / "out"
    score(fake_config(small_shards, out))
    assert state(out).is_dir()  # the job's own files exist, beside the output
    want = _rows_in(small_shards)
    assert _counts(out, tmp_path) == dict.fromkeys(_counts(out, tmp_path), want)


def test_a_cascade_output_hides_its_prefilter_pass_from_every_reader(small_shards, tmp_path):
    from agiqa.api import score
    from tests.stages.test_cascade import cascade_config

    out = tmp_path / "out"
    score(cascade_config(small_shards, out, {"top_fraction": {"quality": 0.5}}))
    assert (state(out) / "prefilter").is_dir()
    want = _rows_in(small_shards)
    assert set(_counts(out, tmp_path).values()) == {want}


def test_a_filter_output_reads_as_kept_plus_dropped_and_each_folder_alone(small_shards, tmp_path):
    from agiqa.api import filter as filter_
    from agiqa.api import score

    scored, out = tmp_path / "scored", tmp_path / "out"
    score(fake_config(small_shards, scored))
    summary = filter_({"input": str(scored), "output": str(out), "rules": ["top_fraction quality_score=0.5"],
                       "runner": {"kind": "local"}, "progress": False})
    kept, dropped = summary.rows_by_status["kept"], summary.rows_by_status["dropped"]
    assert kept and dropped
    assert set(_counts(out, tmp_path).values()) == {kept + dropped}
    assert set(_counts(out / "keep", tmp_path).values()) == {kept}


def test_an_ingest_output_reads_as_its_rows_in_every_reader(tmp_path):
    from agiqa.cli import main

    images = tmp_path / "images"
    images.mkdir()
    for i in range(5):
        (images / f"img{i}.png").write_bytes(png(i, 12, 10))
        (images / f"img{i}.txt").write_text(f"a cat, no. {i}")
    out = tmp_path / "out"
    assert main(["ingest", "--input", str(images), "--output", str(out), "--rows-per-shard", "2"]) == 0
    assert (state(out) / "ingest-report.json").is_file()
    assert set(_counts(out, tmp_path).values()) == {5}


def test_spark_reads_every_output_kind_as_its_rows(small_shards, tmp_path):
    """One Spark session (seconds to start) over a plain, a cascade and a filter output."""
    import shutil

    pyspark = pytest.importorskip("pyspark")
    if not shutil.which("java"):
        pytest.skip("Spark needs a Java runtime (Debian: default-jre-headless)")
    from agiqa.api import filter as filter_
    from agiqa.api import score
    from tests.stages.test_cascade import cascade_config

    plain, cascade, filtered = tmp_path / "plain", tmp_path / "cascade", tmp_path / "filtered"
    score(fake_config(small_shards, plain))
    score(cascade_config(small_shards, cascade, {"top_fraction": {"quality": 0.5}}))
    filter_({"input": str(plain), "output": str(filtered), "rules": ["top_fraction quality_score=0.5"],
             "runner": {"kind": "local"}, "progress": False})
    spark = (pyspark.sql.SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "1").getOrCreate())
    try:
        spark.sparkContext.setLogLevel("ERROR")
        read = spark.read.option("recursiveFileLookup", "true")
        want = _rows_in(small_shards)
        assert [read.parquet(str(p)).count() for p in (plain, cascade, filtered)] == [want, want, want]
        assert {r["id"] for r in read.parquet(str(cascade)).select("id").collect()} == {
            i for p in small_shards.rglob("*.parquet") for i in pq.read_table(p).column("id").to_pylist()}
    finally:
        spark.stop()


def test_eval_reads_a_cascade_output_once(small_shards, tmp_path):
    """`agiqa eval` over a cascade's output: its rows, not the prefilter's as well (was n=30 of 24)."""
    from agiqa.api import score
    from agiqa.data.rows import read_rows
    from tests.stages.test_cascade import cascade_config

    out = tmp_path / "out"
    score(cascade_config(small_shards, out, {"top_fraction": {"quality": 0.5}}))
    rows = read_rows(str(out), drop_columns=("image",))
    assert len(rows) == _rows_in(small_shards) and len({r["id"] for r in rows}) == len(rows)
