"""The audit's figures (matplotlib, Agg backend, imported only here; a base dependency, so the light install audits).

Per aspect (per aspect and source for a cascade's column): score distributions per group as step
histograms over 50 equal bins from the smallest to the largest finite score any group has (taken from
the data, never an assumed 0-5; counts read from each group's quantile sketch, normalised per group so
small and huge groups share one axis), and box plots drawn from the sketch quantiles (box p25-p75,
line at the median, whiskers p10-p90).
"""

from __future__ import annotations

import io
import re

import numpy as np

from agiqa.audit.collect import Collected
from agiqa.audit.stats import AspectStats
from agiqa.errors import ConfigError

COARSE = 50


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("agiqa audit draws its figures with matplotlib: pip install 'matplotlib>=3.8,<4'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def figure_file(name: str) -> str:
    """A figure's file name: `quality@prefilter:clip-agiqa_hist` -> `quality@prefilter_clip-agiqa_hist`."""
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", name)


def _range(stats: list) -> tuple[float, float]:
    """The x range: every group's finite scores (a degenerate range widened by 0.5 each side)."""
    lo = min((s.min for _, s in stats if s.n), default=0.0)
    hi = max((s.max for _, s in stats if s.n), default=1.0)
    return (lo - 0.5, hi + 0.5) if hi <= lo else (lo, hi)


def figures(c: Collected, aspects: list[str], groups: list[str]) -> dict[str, bytes]:
    """name -> PNG bytes: `<key>_hist` and `<key>_box` for every reported key (aspect or aspect@source)."""
    plt = _plt()
    out = {}
    for a in aspects:
        stats = [(g, c.groups[g].aspects.get(a, AspectStats()) if g in c.groups else AspectStats()) for g in groups]
        lo, hi = _range(stats)
        edges = np.linspace(lo, hi, COARSE + 1)
        fig, ax = plt.subplots(figsize=(7, 3.2))
        for g, s in stats:
            if s.n:
                ax.stairs(s.sketch.histogram(edges) / s.n, edges, label=f"{g} (n={s.n})", linewidth=1.6)
        ax.set(xlabel=f"{a} score", ylabel="share of rows", xlim=(lo, hi), title=f"{a}: score distribution")
        if any(s.n for _, s in stats):
            ax.legend(fontsize=7, loc="upper left")
        out[f"{a}_hist"] = _png(fig)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(7, 0.6 + 0.45 * max(1, len(stats))))
        boxes = [{"label": f"{g} (n={s.n})", "med": s.quantile(0.5), "q1": s.quantile(0.25), "q3": s.quantile(0.75),
                  "whislo": s.quantile(0.1), "whishi": s.quantile(0.9), "fliers": []} for g, s in stats if s.n]
        if boxes:
            ax.bxp(boxes, orientation="horizontal", showfliers=False)
        else:
            ax.text(0.5, 0.5, "no scores", ha="center", va="center", transform=ax.transAxes)
        ax.set(xlabel=f"{a} score (box p25-p75, whiskers p10-p90)", xlim=(lo, hi))
        out[f"{a}_box"] = _png(fig)
        plt.close(fig)
    return out
