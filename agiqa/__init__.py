"""agiqa: score AI-generated images for quality, correspondence and authenticity at scale.

Importing this package is deliberately cheap: no torch, transformers, vllm or ray are imported
here (a test checks it in a fresh process). Heavy modules are imported where they are used.
"""

__version__ = "0.1.0"

from agiqa.aspects import ASPECTS, RATING_WORDS, rating_for_score

__all__ = ["ASPECTS", "RATING_WORDS", "Scorer", "rating_for_score", "__version__"]


def __getattr__(name: str):
    """`agiqa.Scorer` (the in-process Python API) is imported when first used, keeping `import agiqa` light."""
    if name == "Scorer":
        from agiqa.scorer import Scorer

        return Scorer
    raise AttributeError(f"module 'agiqa' has no attribute {name!r}")
