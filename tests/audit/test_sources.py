"""A cascade's output mixes two methods in one `<aspect>_score` column: audit reports each source apart.

The real cascade writes the shards (fake methods, the main one shifted by +10: two scales that must
not be pooled); the reference numbers are computed here from the rows, split by the source column.
"""

import statistics

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.stages.test_cascade import SHARDS, cascade_config, cheap


@pytest.fixture
def cascade_out(small_shards, tmp_path):
    import agiqa.testing.fakes  # noqa: F401
    from agiqa.api import score

    out = tmp_path / "scored"
    ordered = sorted(cheap(small_shards).values())
    threshold = (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2  # half the rows routed
    score(cascade_config(small_shards, out, {"thresholds": {"quality": threshold}}))
    return out


def test_audit_splits_a_mixed_column_by_source_and_never_pools_it(cascade_out, tmp_path):
    from agiqa.api import audit

    rows = [r for rel in SHARDS for r in pq.read_table(cascade_out / rel).to_pylist()]
    result = audit({"input": str(cascade_out), "output": str(tmp_path / "report"), "progress": False,
                    "aspects": ["quality", "authenticity"]})
    numbers = result["numbers"]
    assert numbers["sources"] == {"quality": ["fake", "prefilter:fake"], "authenticity": ["fake"]}
    assert numbers["aspects"] == ["quality@fake", "quality@prefilter:fake", "authenticity@fake"]
    overall = numbers["overall"]["aspects"]
    for key, (col, source) in {"quality@fake": ("quality", "fake"),
                               "quality@prefilter:fake": ("quality", "prefilter:fake"),
                               "authenticity@fake": ("authenticity", "fake")}.items():
        vals = [np.float32(r[f"{col}_score"]).item() for r in rows if r[f"{col}_score_source"] == source]
        assert vals and overall[key]["n"] == len(vals) and overall[key]["source"] == source
        assert overall[key]["mean"] == pytest.approx(statistics.mean(vals), abs=1e-4)
        assert overall[key]["quantiles"]["p50"] == pytest.approx(float(np.median(vals)), abs=1e-4)
        assert overall[key]["min"] == pytest.approx(min(vals), abs=1e-4)
        assert overall[key]["quantile_error"] == "exact"
    assert min(v["n"] for v in overall.values()) > 0
    assert overall["quality@fake"]["min"] > 10 > overall["quality@prefilter:fake"]["max"]  # two scales, apart
    from agiqa.workflows.audit import summary_line

    assert "reported per source, never pooled: quality (fake, prefilter:fake)" in summary_line(result)
    html = (tmp_path / "report/report.html").read_text()
    assert 'id="sources"' in html and "scores from prefilter:fake only" in html
    assert (tmp_path / "report/figures/quality@prefilter_fake_hist.png").is_file()
    csv = (tmp_path / "report/groups.csv").read_text().splitlines()
    assert csv[0].endswith(",source,nonfinite,quantile_error")
    assert any(line.startswith("(all),quality@prefilter:fake,") and ",prefilter:fake,0,exact" in line for line in csv)
