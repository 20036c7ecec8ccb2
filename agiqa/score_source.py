"""Which method produced a score: the `<aspect>_score_source` column a cascade writes beside each score.

A cascade's `<aspect>_score` holds two models' outputs: rows the cheap prefilter rejected keep its
score, the rest get the main method's. The two are on different scales (different models, one maybe
unbounded), so one distribution or one ranking over the column would mean nothing. The source
column says, per row, whose score it is: the main method's name (`m3-agiqa`), or `prefilter:<name>`
for the cheap one (prefixed, so a cascade of one method behind itself stays unambiguous); null where
the score is null. Readers (audit, filter) use it to keep the sources apart.
"""

from __future__ import annotations

PREFILTER_PREFIX = "prefilter:"
SUFFIX = "_source"
KEY_SEP = "@"


def source_column(score_column: str) -> str:
    """`quality_score` -> `quality_score_source`."""
    return score_column + SUFFIX


def prefilter_source(method_name: str) -> str:
    return PREFILTER_PREFIX + method_name


def stat_key(aspect: str, source: str | None) -> str:
    """The audit's name for one aspect's statistics from one source: `quality@m3-agiqa` (or `quality`)."""
    return aspect if source is None else f"{aspect}{KEY_SEP}{source}"


def split_key(key: str) -> tuple[str, str | None]:
    """`quality@m3-agiqa` -> ('quality', 'm3-agiqa'); `quality` -> ('quality', None)."""
    aspect, sep, source = key.partition(KEY_SEP)
    return aspect, (source if sep else None)
