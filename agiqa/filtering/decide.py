"""Deciding one batch: each row kept, or dropped with the first reason that applies.

Order of reasons: `status=error` (the scorer failed on the row), then `<column>_source != <source>`
for a row from another method than the one chosen to judge a mixed column (`agiqa.filtering.sources`),
then for each rule in order `null <column>` (no value to judge: null or NaN) or the rule's own text
when it fails. Never
silent: every dropped row carries its reason, and the counts per reason are the filter's stats.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from agiqa.filtering.rules import OPS, KeepRule, Rule
from agiqa.filtering.sources import other_source_mask, source_reason
from agiqa.selection import RankCutoff
from agiqa.selection.keys import numeric_values

ERROR_REASON = "status=error"


def null_reason(column: str) -> str:
    return f"null {column}"


def decide(batch, rules: list[Rule], cutoffs: dict[str, RankCutoff], id_column: str,
           status_column: str | None, sources: dict[str, str] | None = None) -> tuple[pa.Array, pa.Array]:
    """(`status` kept/dropped, `reason` or null) for every row of `batch`, in order. `sources`: column ->
    the one source whose rows are judged on it (the others dropped)."""
    n = batch.num_rows
    reason = np.full(n, None, dtype=object)
    open_ = np.ones(n, dtype=bool)  # rows no reason has claimed yet

    def claim(mask: np.ndarray, why: str) -> None:
        hit = open_ & mask
        reason[hit] = why
        open_[hit] = False

    if status_column is not None:
        st = batch.column(status_column).to_numpy(zero_copy_only=False)
        claim(st == "error", ERROR_REASON)
    for column, source in (sources or {}).items():
        claim(other_source_mask(batch, column, source), source_reason(column, source))
    for rule in rules:
        vals, valid = numeric_values(batch.column(rule.column), rule.column)
        claim(~valid, null_reason(rule.column))
        if isinstance(rule, KeepRule):
            with np.errstate(invalid="ignore"):
                ok = OPS[rule.op](vals, rule.value)
        else:
            ok = cutoffs[rule.text].keeps(batch.column(rule.column), batch.column(id_column))
        claim(~ok, rule.text)
    status = np.where(open_, "kept", "dropped")
    return pa.array(status, pa.string()), pa.array(reason, pa.string())
