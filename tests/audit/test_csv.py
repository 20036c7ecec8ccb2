"""The audit's CSV files open safely in a spreadsheet: text cells that a spreadsheet would run as a
formula (OWASP: leading `=`, `+`, `-`, `@`, tab, CR) get a leading `'`; numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pyarrow.parquet as pq

from agiqa.api import audit
from agiqa.audit.csv_cells import csv_bytes, safe_cell
from tests.filtering.data import SCHEMA

EVIL = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1,2)", "\t=1", "\r=1"]


def test_formula_cells_are_prefixed_and_numbers_are_not():
    assert [safe_cell(v) for v in EVIL] == ["'" + v for v in EVIL]
    assert [safe_cell(v) for v in (-1.5, -3, 0, None, "-3", "-0.25", "+1e-3", "gen-a", "a=b")] == [
        -1.5, -3, 0, None, "-3", "-0.25", "+1e-3", "gen-a", "a=b"]
    rows = list(csv.DictReader(io.StringIO(csv_bytes([{"g": EVIL[0], "x": -2.5}], ["g", "x"]).decode())))
    assert rows == [{"g": "'" + EVIL[0], "x": "-2.5"}]


def test_groups_csv_and_compare_csv_of_a_real_audit_are_guarded(tmp_path):
    def shard(root, shift):
        root.mkdir()
        rows = [{"id": f"r{i}", "prompt": "p", "generator": EVIL[i % len(EVIL)], "quality_score": -1.0 - i / 10 + shift,
                 "quality_rating": "bad", "quality_description": "d", "correspondence_score": 1.0, "status": "ok",
                 "error": None} for i in range(24)]
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), root / "s.parquet")

    shard(tmp_path / "now", 0.0)
    shard(tmp_path / "before", 0.5)
    audit({"input": str(tmp_path / "now"), "compare": str(tmp_path / "before"), "output": str(tmp_path / "r"),
           "group_by": ["generator"], "aspects": ["quality", "correspondence"]})
    for name in ("groups.csv", "compare.csv"):
        with open(tmp_path / "r" / name, newline="") as f:  # as the csv module says: a quoted CR is data
            rows = list(csv.DictReader(f))
        groups = {r["group"] for r in rows} - {"(all)"}
        assert groups == {"'" + v for v in EVIL}, name
        assert not any(v.startswith(("=", "+", "@", "\t", "\r")) for r in rows for v in r.values()), name
    with open(tmp_path / "r" / "groups.csv", newline="") as f:
        means = [float(r["mean"]) for r in csv.DictReader(f) if r["aspect"] == "quality"]
    assert means and all(m < 0 for m in means)  # negative numbers kept as numbers, not prefixed
