"""A folder holding an output beside its state root (`OUT/` and `OUT.agiqa/`), or an agiqa 0.1 output
with its `_agiqa/`, given as input to another command: score, filter, eval and audit read the data
shards only, and one warning names the state folders left out.

Before: `OUT.agiqa/prefilter/*.parquet` (a cascade's internal pass: the same rows again, with other
columns) was listed as input, so `filter` broke on a column the prefilter shards lack, `eval` and
`audit` counted its rows twice, and `score` scored them again.
"""

from __future__ import annotations

import logging
import shutil

import pyarrow.parquet as pq
import pytest

from tests.fixtures.state import state
from tests.runner.helpers import fake_config

LAYOUT_LOG = "agiqa.storage.layout"


@pytest.fixture
def parent(small_shards, tmp_path):
    """`P/scored/` (a cascade output, 40 rows), `P/scored.agiqa/prefilter/` (its internal pass), and
    `P/old/_agiqa/stray.parquet` (an agiqa 0.1 state folder holding a Parquet file)."""
    from agiqa.api import score
    from tests.stages.test_cascade import cascade_config

    p = tmp_path / "P"
    score(cascade_config(small_shards, p / "scored", {"top_fraction": {"quality": 0.5}}))
    assert list((state(p / "scored") / "prefilter").rglob("*.parquet"))  # the trap is there
    (p / "old" / "_agiqa").mkdir(parents=True)
    shutil.copy(small_shards / "a.parquet", p / "old" / "_agiqa" / "stray.parquet")
    return p


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    """Each command warns once per process and root; tests run several commands in one process."""
    import agiqa.storage.layout as layout

    monkeypatch.setattr(layout, "_warned", set(), raising=False)


def _rows(root) -> int:
    return sum(pq.read_metadata(f).num_rows for f in root.rglob("*.parquet"))


def _warned_once(caplog) -> None:
    lines = [r.getMessage() for r in caplog.records if r.name == LAYOUT_LOG and r.levelno == logging.WARNING]
    assert len(lines) == 1, lines
    assert "scored.agiqa/ (" in lines[0] and "old/_agiqa/ (1 shard(s))" in lines[0]


def test_listing_leaves_out_state_roots_and_legacy_state_at_any_depth(parent, caplog):
    from agiqa.storage import open_store
    from agiqa.storage.layout import data_shards

    caplog.set_level(logging.WARNING, LAYOUT_LOG)
    rels = [s.rel for s in data_shards(open_store(str(parent)), str(parent))]
    assert rels == sorted(f"scored/{r}" for r in ("a.parquet", "b.parquet", "sub/c.parquet", "sub/d.parquet"))
    data_shards(open_store(str(parent)), str(parent))  # listed again: no second warning
    _warned_once(caplog)


def test_score_over_a_folder_with_a_state_root_scores_only_the_data_rows(small_shards, tmp_path, caplog):
    """Unscored shards (`P/data/`) beside a state root holding Parquet (`P/data.agiqa/prefilter/`)."""
    from agiqa.api import score

    p = tmp_path / "P"
    shutil.copytree(small_shards, p / "data")
    (p / "data.agiqa" / "prefilter").mkdir(parents=True)
    shutil.copy(small_shards / "a.parquet", p / "data.agiqa" / "prefilter" / "a.parquet")
    caplog.set_level(logging.WARNING, LAYOUT_LOG)
    summary = score(fake_config(p, tmp_path / "again"))
    assert summary.rows == _rows(small_shards) == 40
    assert not (tmp_path / "again" / "data.agiqa").exists()
    lines = [r.getMessage() for r in caplog.records if r.name == LAYOUT_LOG and r.levelno == logging.WARNING]
    assert len(lines) == 1 and "data.agiqa/ (1 shard(s))" in lines[0], lines


def test_filter_over_the_parent_reads_the_data_shards_only(parent, tmp_path, caplog):
    from agiqa.api import filter as filter_

    caplog.set_level(logging.WARNING, LAYOUT_LOG)
    summary = filter_({"input": str(parent), "output": str(tmp_path / "f"), "runner": {"kind": "local"},
                       "rules": ["top_fraction quality_score=0.5"], "sources": {"quality_score": "fake"},
                       "progress": False})
    assert summary.rows_by_status["kept"] + summary.rows_by_status["dropped"] == 40
    _warned_once(caplog)


def test_eval_over_the_parent_counts_each_row_once(parent, tmp_path, capsys, caplog):
    import json

    import pyarrow as pa

    from agiqa.cli import main

    ids = [i for f in sorted((parent / "scored").rglob("*.parquet")) for i in pq.read_table(f).column("id").to_pylist()]
    (tmp_path / "labels").mkdir()
    pq.write_table(pa.table({"id": ids, "quality_mos": [float(k % 5) for k in range(len(ids))]}),
                   tmp_path / "labels" / "l.parquet")
    caplog.set_level(logging.WARNING, LAYOUT_LOG)
    for root, name in ((parent, "parent.json"), (parent / "scored", "alone.json")):
        assert main(["eval", "--scored", str(root), "--labels", str(tmp_path / "labels"),
                     "--json", str(tmp_path / name)]) == 0
    _warned_once(caplog)
    parent_n, alone_n = ({a: m["n"] for a, m in json.loads((tmp_path / n).read_text()).items()}
                         for n in ("parent.json", "alone.json"))
    assert parent_n == alone_n and parent_n["quality"] > 0  # the output's rows, once each


def test_audit_over_the_parent_counts_each_row_once(parent, tmp_path, caplog):
    from agiqa.api import audit

    caplog.set_level(logging.WARNING, LAYOUT_LOG)
    result = audit({"input": str(parent), "output": str(tmp_path / "report"), "progress": False})
    assert result["rows"] == 40
    _warned_once(caplog)
