"""The field's agreement metrics: SRCC, PLCC (raw and after a logistic fit), KRCC, RMSE.

PLCC is customarily reported after mapping predictions through a monotonic logistic fitted to
the labels (VQEG); the 5-parameter form and its starting point follow the reference
(`logistic_5_param`, p0 = [10, 0.1, mean(y), 0.1, 0.1]).
"""

from __future__ import annotations

import math

import numpy as np


def logistic_5(x, b1, b2, b3, b4, b5):
    return b1 * (0.5 - 1.0 / (1.0 + np.exp(b2 * (x - b3)))) + b4 * x + b5


def logistic_4(x, b1, b2, b3, b4):
    return (b1 - b2) / (1.0 + np.exp(-(x - b3) / (np.abs(b4) + 1e-12))) + b2


def fit_logistic(pred, y, kind: int = 5):
    """Fitted parameters of the 4- or 5-parameter logistic mapping pred → y (None if it fails)."""
    from scipy.optimize import curve_fit

    pred, y = np.asarray(pred, float), np.asarray(y, float)
    if kind == 5:
        fn, p0 = logistic_5, [10.0, 0.1, float(np.mean(y)), 0.1, 0.1]
        p0[2] = float(np.mean(pred))
    else:
        fn, p0 = logistic_4, [float(np.max(y)), float(np.min(y)), float(np.mean(pred)), float(np.std(pred) or 1.0)]
    import warnings

    try:
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")
            params, _ = curve_fit(fn, pred, y, p0=p0, maxfev=20000)
    except (RuntimeError, ValueError):
        return None
    return params


def metrics(pred, y) -> dict[str, float]:
    """SRCC, PLCC, PLCC after 4/5-parameter logistic fits, KRCC, RMSE (nan when undefined)."""
    from scipy import stats

    pred, y = np.asarray(pred, float), np.asarray(y, float)
    n = len(pred)
    out = {"n": n}
    if n < 3 or np.std(pred) == 0 or np.std(y) == 0:
        return {**out, "srcc": math.nan, "plcc": math.nan, "plcc_logistic4": math.nan,
                "plcc_logistic5": math.nan, "krcc": math.nan, "rmse": float(np.sqrt(np.mean((pred - y) ** 2)))
                if n else math.nan}
    out["srcc"] = float(stats.spearmanr(pred, y).statistic)
    out["plcc"] = float(stats.pearsonr(pred, y).statistic)
    out["krcc"] = float(stats.kendalltau(pred, y).statistic)
    out["rmse"] = float(np.sqrt(np.mean((pred - y) ** 2)))
    for kind in (4, 5):
        params = fit_logistic(pred, y, kind)
        fn = logistic_4 if kind == 4 else logistic_5
        with np.errstate(over="ignore", invalid="ignore"):
            fitted = fn(pred, *params) if params is not None else None
        ok = fitted is not None and np.all(np.isfinite(fitted)) and np.std(fitted) > 0
        out[f"plcc_logistic{kind}"] = float(stats.pearsonr(fitted, y).statistic) if ok else math.nan
    return out
