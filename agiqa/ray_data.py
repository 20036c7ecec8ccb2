"""Deprecated path of `agiqa.ray_data_udf` (moved after agiqa 0.1.0; this path goes in the next release).

`agiqa.ray_data.Scorer` still works and warns once per use: it is `agiqa.ray_data_udf.ScoreBatches`.
The module was renamed so that it is not confused with `runner.kind: ray-data` (`agiqa.runner.ray_data`),
the Ray Data backend of `agiqa score`. Importing this module stays light (nothing is loaded until
`Scorer` is read).
"""

from __future__ import annotations

import warnings


def __getattr__(name: str):
    if name == "Scorer":
        warnings.warn("agiqa.ray_data.Scorer is deprecated: use agiqa.ray_data_udf.ScoreBatches (the same class)",
                      DeprecationWarning, stacklevel=2)
        from agiqa.ray_data_udf import ScoreBatches

        return ScoreBatches
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
