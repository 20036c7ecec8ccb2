"""What a job changed, said where people look: renamed input columns (one INFO line per pass, the job
summary, its printed table) and committed shards done again because their outputs were damaged.

Before: an img2dataset `status` column became `input_status` (and, filtered, the scorer's became
`input2_status`) with no word outside the manifests, and `redone_damaged` was in the JSON only.
"""

from __future__ import annotations

import json
import logging

import pyarrow.parquet as pq

from tests.fixtures.shards import write_shard
from tests.fixtures.state import state
from tests.runner.helpers import fake_config

POLICY_LOG = "agiqa.runner.policy"


def _rename_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == POLICY_LOG and r.levelno == logging.INFO and "renamed" in r.getMessage()]


def test_renamed_input_columns_are_logged_once_per_pass_and_in_the_summary(tmp_path, caplog):
    from agiqa.api import filter as filter_
    from agiqa.api import score

    data, scored, out = tmp_path / "in", tmp_path / "scored", tmp_path / "out"
    for k in range(3):  # three shards: still one line per pass
        write_shard(data / f"s{k}.parquet", [f"s{k}#{i}" for i in range(4)], status=["success"] * 4)
    caplog.set_level(logging.INFO, POLICY_LOG)
    summary = score(fake_config(data, scored))
    assert pq.read_table(scored / "s0.parquet").column("input_status").to_pylist() == ["success"] * 4
    assert summary.passes[0]["renamed_input_columns"] == {"status": "input_status"}
    assert json.loads((state(scored) / "job_summary.json").read_text())["passes"][0]["renamed_input_columns"] == {
        "status": "input_status"}
    assert [ln for ln in summary.table().splitlines() if "renamed" in ln] == [
        "  renamed input column(s) status -> input_status (the stage writes those names)"]
    lines = _rename_lines(caplog)
    assert len(lines) == 1 and "status -> input_status" in lines[0], lines

    caplog.clear()
    filtered = filter_({"input": str(scored), "output": str(out), "rules": ["quality_score >= 0"],
                        "runner": {"kind": "local"}, "progress": False})
    assert filtered.passes[-1]["renamed_input_columns"] == {"status": "input2_status"}
    assert "status -> input2_status" in filtered.table()
    lines = _rename_lines(caplog)
    assert len(lines) == 1 and "status -> input2_status" in lines[0], lines


def test_no_rename_no_line(small_shards, tmp_path, caplog):
    from agiqa.api import score

    caplog.set_level(logging.INFO, POLICY_LOG)
    summary = score(fake_config(small_shards, tmp_path / "out"))
    assert "renamed_input_columns" not in summary.passes[0] and "renamed" not in summary.table()
    assert _rename_lines(caplog) == []


def test_shards_redone_because_damaged_are_in_the_printed_summary(small_shards, tmp_path):
    from agiqa.api import score

    out = tmp_path / "out"
    first = score(fake_config(small_shards, out))
    assert "redone" not in first.table()
    (out / "sub" / "c.parquet").unlink()
    again = score(fake_config(small_shards, out))
    assert [ln for ln in again.table().splitlines() if "redone" in ln] == [
        "  redone  1 committed shard(s) done again, their outputs not as committed (first: sub/c.parquet: "
        + again.passes[0]["redone_damaged"]["sub/c.parquet"] + ")"]
