"""Rules on a column that mixes methods (a cascade's `<aspect>_score`): refused, or judged within one source.

A cascade's prefiltered rows keep the cheap method's score, the others carry the main method's; the
two scales need not agree (another model, maybe unbounded), so a threshold or a top fraction over the
whole column would compare numbers that do not compare. The filter therefore refuses such a rule in
one line unless the user picks the source to judge (`--source quality_score=m3-agiqa`): then rows
from any other source are dropped with the reason `quality_score_source != m3-agiqa` (before every
rule), and a top fraction is of the chosen source's rows only.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from agiqa.errors import ConfigError
from agiqa.score_source import source_column


def source_reason(column: str, source: str) -> str:
    return f"{source_column(column)} != {source}"


def check_sources(rule_columns: list[str], counts: dict[str, Counter], chosen: dict[str, str], where: str) -> None:
    """Refuse (ConfigError, one line) a rule on a column whose rows come from more than one source
    without a chosen one, and a chosen source the column does not have. `counts`: column -> rows per
    source (only for columns that have a source column)."""
    for col, src in chosen.items():
        if col not in counts:
            raise ConfigError(f"source {col}={src}: {col!r} has no {source_column(col)!r} column in {where}, so its "
                              "scores come from one method; drop the --source")
        if src not in counts[col]:
            raise ConfigError(f"source {col}={src}: no row of {col!r} comes from {src!r} in {where}; its sources: "
                              + ", ".join(sorted(counts[col])))
    for col in dict.fromkeys(rule_columns):
        seen = counts.get(col, Counter())
        if len(seen) > 1 and col not in chosen:
            mix = ", ".join(f"{s} on {n} rows" if n else s for s, n in sorted(seen.items()))
            raise ConfigError(
                f"{col!r} mixes the scores of {len(seen)} methods ({mix}; see {source_column(col)!r}), whose scales "
                f"need not agree, so one threshold or ranking over it would mix them: judge one source with "
                f"--source {col}={sorted(seen)[0]} (rows from the others are dropped with that reason)")


def other_source_mask(batch, column: str, source: str) -> np.ndarray:
    """True for the rows of `batch` whose `column` comes from another source than `source` (or none)."""
    src = batch.column(source_column(column))
    if isinstance(src, pa.ChunkedArray):
        src = src.combine_chunks()
    return np.asarray([s != source for s in src.to_pylist()], dtype=bool)
