"""Selecting rows by rank over a whole dataset, in bounded memory (pure numpy/pyarrow).

`top_fraction_cutoff` finds, in a few scans, the exact cutoff that keeps the best `fraction` of
all rows whatever the sharding; `RankCutoff.keeps` then applies it to any batch on its own.
"""

from agiqa.selection.cutoff import CutoffSearch, RankCutoff, keep_count, top_fraction_cutoff

__all__ = ["CutoffSearch", "RankCutoff", "keep_count", "top_fraction_cutoff"]
