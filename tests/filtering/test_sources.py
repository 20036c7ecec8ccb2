"""Filter rules on a cascade's mixed column: refused in one line, or judged within the one source chosen.

The cascade is real (fake methods; the main one shifted by +10, so a pooled ranking would keep only
main-scored rows); the expected keep sets are computed here by sorting the rows in Python.
"""

import subprocess
import sys

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from agiqa.errors import ConfigError
from tests.stages.test_cascade import SHARDS, cascade_config, cheap


def cascade(data, out):
    import agiqa.testing.fakes  # noqa: F401
    from agiqa.api import score

    ordered = sorted(cheap(data).values())
    threshold = (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2  # half the rows routed
    cfg = cascade_config(data, out, {"thresholds": {"quality": threshold}})
    score(cfg)
    return cfg


@pytest.fixture
def scored(small_shards, tmp_path):
    cascade(small_shards, tmp_path / "scored")
    rows = [r for rel in SHARDS for r in pq.read_table(tmp_path / "scored" / rel).to_pylist()]
    assert {r["quality_score_source"] for r in rows} == {"fake", "prefilter:fake"}
    return tmp_path, rows


def config(tmp, rules, **kw):
    return {"input": str(tmp / "scored"), "output": str(tmp / "out"), "rules": rules,
            "runner": {"kind": "local"}, "progress": False, **kw}


@pytest.mark.parametrize("rule", ["top_fraction quality_score=0.2", "quality_score >= 3"])
def test_a_rule_on_a_mixed_column_is_refused_before_any_work(scored, rule):
    from agiqa.api import filter as filter_

    tmp, rows = scored
    n_main = sum(r["quality_score_source"] == "fake" for r in rows)
    with pytest.raises(ConfigError, match=rf"'quality_score' mixes the scores of 2 methods \(fake on {n_main} rows"):
        filter_(config(tmp, [rule]))
    assert not (tmp / "out").exists()


def test_cli_refuses_it_in_one_line_with_exit_2(scored):
    tmp, _ = scored
    out = subprocess.run([sys.executable, "-m", "agiqa", "filter", "--input", str(tmp / "scored"), "--output",
                          str(tmp / "out"), "--top-fraction", "quality_score=0.2", "--runner", "local"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "--source quality_score=" in out.stderr and not (tmp / "out").exists()


def test_top_fraction_within_the_chosen_source(scored):
    from agiqa.api import filter as filter_
    from agiqa.api import filter_dry_run

    tmp, rows = scored
    cfg = config(tmp, ["top_fraction quality_score=0.5"], sources={"quality_score": "prefilter:fake"})
    mine = sorted((r for r in rows if r["quality_score_source"] == "prefilter:fake"),
                  key=lambda r: (-r["quality_score"], r["id"]))
    want = {r["id"] for r in mine[: -(-len(mine) // 2)]}  # ceil(0.5 * n) of the prefilter's rows only
    dry = filter_dry_run(cfg)
    summary = filter_(cfg)
    assert not summary.failed
    keep = ds.dataset(str(tmp / "out/keep"), format="parquet").to_table()
    drop = ds.dataset(str(tmp / "out/drop"), format="parquet").to_table()
    assert set(keep.column("id").to_pylist()) == want
    reasons = dict(zip(drop.column("id").to_pylist(), drop.column("reason").to_pylist(), strict=True))
    for r in rows:
        if r["quality_score_source"] == "fake":
            assert reasons[r["id"]] == "quality_score_source != prefilter:fake"
        elif r["id"] not in want:
            assert reasons[r["id"]] == "top_fraction quality_score=0.5"
    assert summary.reduced["cutoff0-quality_score"]["total"] == len(mine)
    assert dry["kept"] == len(want) and dry["rules"][0]["keeps_alone"] == len(want)


def test_a_column_from_one_source_needs_no_choice_and_a_wrong_choice_is_refused(scored):
    from agiqa.api import filter_dry_run

    tmp, rows = scored
    d = filter_dry_run(config(tmp, ["authenticity_score >= 0"]))  # only the main method scored authenticity
    assert d["kept"] == sum(r["authenticity_score"] is not None for r in rows)
    with pytest.raises(ConfigError, match=r"no row of 'quality_score' comes from 'clip-agiqa'.*fake, prefilter:fake"):
        filter_dry_run(config(tmp, ["quality_score >= 3"], sources={"quality_score": "clip-agiqa"}))
    with pytest.raises(ConfigError, match="has no 'id_source' column"):
        filter_dry_run(config(tmp, ["quality_score >= 3"], sources={"quality_score": "fake", "id": "x"}))


def test_scoring_with_a_cascade_on_the_way_is_refused_from_its_config(small_shards, tmp_path):
    import agiqa.testing.fakes  # noqa: F401
    from agiqa.api import filter as filter_

    score = cascade_config(small_shards, tmp_path / "scored", {"thresholds": {"quality": 1.0}}).model_dump()
    with pytest.raises(ConfigError, match=r"'quality_score' mixes the scores of 2 methods \(fake, prefilter:fake"):
        filter_({"output": str(tmp_path / "out"), "rules": ["top_fraction quality_score=0.25"], "score": score,
                 "runner": {"kind": "local"}, "progress": False})
    assert not (tmp_path / "scored").exists()
