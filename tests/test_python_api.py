"""`agiqa.Scorer` in-process (the docs' notebook example, run as written) and
`agiqa.ray_data_udf.ScoreBatches` on a local Ray: both equal to `agiqa score`'s output for the same rows."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

import agiqa.testing.fakes  # noqa: F401 - registers method `fake`
from agiqa.api import score
from tests.fixtures.model import job_config
from tests.fixtures.shards import png, write_shard

DOC = Path(__file__).resolve().parents[1] / "docs" / "ingest.md"


def notebook_example() -> str:
    text = DOC.read_text()
    m = re.search(r"<!-- notebook-example -->\s*```python\n(.*?)```", text, re.S)
    assert m, "docs/ingest.md has no notebook example"
    return m.group(1)


def _job_rows(out):
    return {r["id"]: r for r in pads.dataset(str(out)).to_table().to_pylist()}


def test_notebook_example_runs_and_scorer_equals_the_job_on_m3(tiny_model_dir, tmp_path):
    from PIL import Image

    ns: dict = {}
    exec(compile(notebook_example().replace("/models/agiqa-qwen2-vl", str(tiny_model_dir)), "notebook", "exec"), ns)
    assert ns["table"].num_rows == 3 and ns["table"].column("status").to_pylist() == ["ok", "ok", "error"]

    # the same rows through `agiqa score` (local runner) and through the Scorer: the same scores
    images = [png(i, 40 + 8 * i, 48) for i in range(3)]
    prompts = ["a red circle", "two blue squares", "a cat"]
    write_shard(tmp_path / "in" / "s.parquet", ["a", "b", "c"], prompts, images)
    cfg = job_config(tiny_model_dir, str(tmp_path / "in"), str(tmp_path / "out"), aspects=["quality"],
                     runner={"kind": "local"})
    assert not score(cfg).shards_failed
    job = _job_rows(tmp_path / "out")
    from agiqa import Scorer

    with Scorer("m3-agiqa", model=str(tiny_model_dir), aspects=["quality"],
                engine={"max_new_tokens": 6, "batch_size": 8}) as scorer:
        pil = [Image.open(__import__("io").BytesIO(b)) for b in images]
        got = scorer.score(pil, prompts, ids=["a", "b", "c"]).to_pylist()
    np.testing.assert_allclose([r["quality_score"] for r in got], [job[i]["quality_score"] for i in "abc"],
                               rtol=1e-5, atol=1e-5)
    assert [r["quality_description"] for r in got] == [job[i]["quality_description"] for i in "abc"]
    assert [r["quality_rating"] for r in got] == [job[i]["quality_rating"] for i in "abc"]


def test_score_table_has_the_jobs_layout(tmp_path):
    from agiqa import Scorer

    write_shard(tmp_path / "in" / "s.parquet", ["a", "b"], ["x", None], [png(1), b"junk"], status=["p", "q"])
    score({"input": str(tmp_path / "in"), "output": str(tmp_path / "out"), "method": {"name": "fake"},
           "runner": {"kind": "local"}, "progress": False})
    job = pq.read_table(tmp_path / "out" / "s.parquet")
    got = Scorer("fake").score_table(pq.read_table(tmp_path / "in" / "s.parquet"))
    assert got.schema.names == job.schema.names  # input columns but the image, `input_status`, scores
    assert got.to_pylist() == job.to_pylist()


def test_light_refusals_are_one_line_config_errors():
    from agiqa import Scorer
    from agiqa.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown method 'm3agiqa'.*did you mean 'm3-agiqa'"):
        Scorer("m3agiqa")
    with pytest.raises(ConfigError, match="invalid method 'fake': refuse_rows: Extra inputs"):
        Scorer("fake", refuse_rows="x")


def test_ray_data_map_batches_equals_the_job(ray_local, tmp_path):
    import ray.data

    from agiqa.ray_data_udf import ScoreBatches

    for k in range(2):
        write_shard(tmp_path / "in" / f"s{k}.parquet", [f"{k}-{i}" for i in range(6)],
                    [f"prompt {k} {i}" if i != 3 else None for i in range(6)], seed=list(range(6)))
    score({"input": str(tmp_path / "in"), "output": str(tmp_path / "out"), "method": {"name": "fake"},
           "runner": {"kind": "local"}, "progress": False})
    job = _job_rows(tmp_path / "out")
    ds = ray.data.read_parquet(str(tmp_path / "in"))
    scored = ds.map_batches(ScoreBatches, batch_format="pyarrow", batch_size=4, concurrency=1,
                            fn_constructor_kwargs={"method": "fake", "imports": ("agiqa.testing.fakes",)})
    rows = {r["id"]: r for r in scored.take_all()}
    assert set(rows) == set(job)
    for i, r in rows.items():
        assert {k: r[k] for k in job[i]} == job[i]
    assert rows["0-3"]["status"] == "partial"


def test_old_ray_data_path_still_gives_the_class_with_a_deprecation_warning():
    import agiqa.ray_data
    from agiqa.ray_data_udf import ScoreBatches

    with pytest.warns(DeprecationWarning, match="agiqa.ray_data_udf.ScoreBatches"):
        assert agiqa.ray_data.Scorer is ScoreBatches
    with pytest.raises(AttributeError):
        agiqa.ray_data.Nothing  # noqa: B018
