"""The audit's figures (matplotlib, Agg backend, imported only here; a base dependency, so the light install audits).

Per aspect: score distributions per group as step histograms (0.1-wide bins merged from the 0.01
statistics bins, normalised per group so small and huge groups share one axis), and box plots drawn
from the histogram quantiles (box p25-p75, line at the median, whiskers p10-p90).
"""

from __future__ import annotations

import io

import numpy as np

from agiqa.audit.collect import Collected
from agiqa.audit.stats import BINS, HIGH, LOW, AspectStats
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


def figures(c: Collected, aspects: list[str], groups: list[str]) -> dict[str, bytes]:
    """name -> PNG bytes: `<aspect>_hist` and `<aspect>_box` for every aspect."""
    plt = _plt()
    out = {}
    edges = np.linspace(LOW, HIGH, COARSE + 1)
    for a in aspects:
        stats = [(g, c.groups[g].aspects.get(a, AspectStats()) if g in c.groups else AspectStats()) for g in groups]
        fig, ax = plt.subplots(figsize=(7, 3.2))
        for g, s in stats:
            if s.n:
                coarse = s.hist.reshape(COARSE, BINS // COARSE).sum(axis=1) / s.n
                ax.stairs(coarse, edges, label=f"{g} (n={s.n})", linewidth=1.6)
        ax.set(xlabel=f"{a} score", ylabel="share of rows", xlim=(LOW, HIGH), title=f"{a}: score distribution")
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
        ax.set(xlabel=f"{a} score (box p25-p75, whiskers p10-p90)", xlim=(LOW, HIGH))
        out[f"{a}_box"] = _png(fig)
        plt.close(fig)
    return out
