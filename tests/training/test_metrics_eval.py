"""Metrics against scipy, the logistic fit, the procedural dataset and `agiqa eval`."""

import numpy as np
import pytest
from scipy import stats

from agiqa.evaluation.metrics import fit_logistic, logistic_5, metrics


def test_metrics_match_scipy_on_random_data():
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 5, 200)
    pred = y + rng.normal(0, 1, 200)
    m = metrics(pred, y)
    assert m["srcc"] == pytest.approx(stats.spearmanr(pred, y).statistic)
    assert m["plcc"] == pytest.approx(stats.pearsonr(pred, y).statistic)
    assert m["krcc"] == pytest.approx(stats.kendalltau(pred, y).statistic)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((pred - y) ** 2)))
    assert m["plcc_logistic5"] >= m["plcc"] - 1e-6  # the fit can only help a monotone relation


def test_logistic_fit_recovers_known_parameters():
    x = np.linspace(-3, 3, 300)
    true = (3.0, 1.5, 0.2, 0.1, 2.0)
    params = fit_logistic(x, logistic_5(x, *true), kind=5)
    np.testing.assert_allclose(logistic_5(x, *params), logistic_5(x, *true), atol=1e-4)


def test_degenerate_inputs_give_nan_not_crash():
    m = metrics([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0])
    assert np.isnan(m["srcc"]) and m["n"] == 4


def test_procedural_data_mos_follows_degradations():
    from agiqa.data.learnability import make_row

    rows = [make_row(i, seed=0) for i in range(200)]
    for aspect, word in (("quality", "heavily blurred"), ("correspondence", "is wrong"),
                         ("authenticity", "glitch")):
        bad = [r[f"{aspect}_mos"] for r in rows if word in r[f"{aspect}_teacher"]]
        good = [r[f"{aspect}_mos"] for r in rows if word not in r[f"{aspect}_teacher"]]
        assert bad and good and np.mean(bad) < np.mean(good) - 0.5, aspect
    assert make_row(5, seed=0) == make_row(5, seed=0)  # deterministic


def test_procedural_glitch_blocks_are_each_visible():
    """The authenticity MOS counts glitch blocks: overlapping blocks would merge into fewer than scored."""
    from scipy import ndimage

    from agiqa.data.learnability import MAX_GLITCHES, _glitch_corners

    rng = np.random.default_rng(0)
    for trial in range(500):
        n = trial % (MAX_GLITCHES + 1)
        mask = np.zeros((96, 96), bool)
        for x, y in _glitch_corners(n, 96, rng):
            mask[y : y + 19, x : x + 19] = True
        assert ndimage.label(mask)[1] == n


def test_eval_on_scored_rows():
    from agiqa.evaluation.evaluate import evaluate

    rng = np.random.default_rng(1)
    y = rng.uniform(0, 5, 50)
    scored = [{"id": i, "status": "ok", "quality_score": float(v + rng.normal(0, 0.3))} for i, v in enumerate(y)]
    scored.append({"id": 99, "status": "error", "quality_score": None})
    labels = [{"id": i, "quality_mos": float(v)} for i, v in enumerate(y)]
    res = evaluate(scored, labels)
    assert res["quality"]["n"] == 50 and res["quality"]["rows_left_out"] == 1
    assert res["quality"]["srcc"] > 0.9
