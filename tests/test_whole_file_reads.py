"""Whole Parquet files are read through `agiqa.storage.parquet.read_table`, never `pq.read_table`:
with pyarrow 26 the latter (through pyarrow.dataset) makes about one process in three abort at exit
(exit 134 after `agiqa filter` printed its one-line refusal)."""

import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]


def test_no_module_reads_a_whole_file_through_pyarrow_dataset():
    bad = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "agiqa").rglob("*.py"))
           for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"\bpq\.read_table\(", line)]
    assert bad == []


def test_a_process_that_read_files_exits_cleanly(tmp_path):
    pq.write_table(pa.table({"a": list(range(100))}), tmp_path / "x.parquet")
    code = ("import sys; from agiqa.storage.parquet import read_table\n"
            f"t = read_table(open({str(tmp_path / 'x.parquet')!r}, 'rb'), columns=['a'])\nsys.exit(2)")
    codes = {subprocess.run([sys.executable, "-c", code], capture_output=True).returncode for _ in range(12)}
    assert codes == {2}
