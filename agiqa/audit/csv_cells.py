"""The audit's CSV files (`groups.csv`, `compare.csv`), safe to open in a spreadsheet.

Group names come from the data (a generator or prompt column), so a cell may start with `=`, `+`,
`-`, `@`, a tab or a carriage return, which Excel, LibreOffice and Sheets run as a formula (CSV
injection). OWASP's rule: such a text cell gets a leading `'`, which spreadsheets show as text. Numbers
stay numbers: a float or int cell is never touched, nor a text cell that is exactly a number (`-3`, a
group named by a negative seed), which a spreadsheet reads as that number and cannot run.
"""

from __future__ import annotations

import csv
import io
import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value):
    """`value` as a CSV cell that no spreadsheet runs as a formula."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START) or _NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_bytes(rows: list[dict], fields: list[str]) -> bytes:
    """`rows` as CSV (header `fields`), every text cell made safe (header names too: they are column names)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[safe_cell(f) for f in fields])
    w.writeheader()
    w.writerows({safe_cell(k): safe_cell(v) for k, v in r.items()} for r in rows)
    return buf.getvalue().encode()
