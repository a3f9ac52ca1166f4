"""Diebold-Mariano and the model confidence set, and the VaR and PIT tests, on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from closecast.evaluation.calibration_tests import pit_uniformity, var_backtest
from closecast.evaluation.significance import confidence_set, diebold_mariano


def test_diebold_mariano_sign_and_p_value():
    rng = np.random.default_rng(0)
    base = rng.gamma(2.0, 1.0, 2000)
    t, p = diebold_mariano(base - 0.2, base + rng.normal(0, 0.5, 2000))
    assert t < -5 and p < 1e-6
    t, p = diebold_mariano(base + rng.normal(0, 0.5, 2000), base + rng.normal(0, 0.5, 2000))
    assert abs(t) < 3 and p > 0.003


def test_the_confidence_set_drops_a_clearly_worse_method_and_keeps_equals():
    rng = np.random.default_rng(1)
    base = rng.gamma(2.0, 1.0, 1000)
    losses = {"a": base + rng.normal(0, 0.1, 1000), "b": base + rng.normal(0, 0.1, 1000), "bad": base + 0.5}
    p = confidence_set(losses, seed=0)
    assert p["bad"] < 0.05 and p["a"] > 0.1 and p["b"] > 0.1
    assert confidence_set(losses, seed=0) == p  # seeded
    assert confidence_set({"only": base}) == {"only": 1.0}


def test_kupiec_by_hand_and_clustered_failures_fail_independence():
    hits = np.zeros(200, dtype=bool)
    hits[::20] = True  # 10 failures, 5%, evenly spread
    out = var_backtest(hits, 0.05)
    assert out["rate"] == 0.05 and out["kupiec"] == pytest.approx(1.0)
    assert out["independence"] > 0.2
    clustered = np.zeros(200, dtype=bool)
    clustered[100:110] = True
    got = var_backtest(clustered, 0.05)
    assert got["kupiec"] == pytest.approx(1.0) and got["independence"] < 1e-4 and got["conditional"] < 1e-3
    # 30 failures where 10 were expected: LR = 2 [30 ln(0.15/0.05) + 170 ln(0.85/0.95)].
    many = np.zeros(200, dtype=bool)
    many[:30] = True
    lr = 2 * (30 * np.log(0.15 / 0.05) + 170 * np.log(0.85 / 0.95))
    from scipy import stats

    assert var_backtest(many, 0.05)["kupiec"] == pytest.approx(stats.chi2.sf(lr, 1))
    with pytest.raises(ValueError, match="at least 2 days"):
        var_backtest(np.array([True]), 0.05)


def test_pit_uniformity_accepts_uniform_and_rejects_too_narrow():
    rng = np.random.default_rng(2)
    assert pit_uniformity(rng.uniform(size=1000)) > 0.01
    assert pit_uniformity(np.clip(rng.normal(0.5, 0.4, 1000), 0, 1)) < 1e-6


def test_identical_loss_series_share_one_p_value():
    rng = np.random.default_rng(3)
    base = rng.gamma(2.0, 1.0, 500)
    p = confidence_set({"served": base, "garch_t": base.copy(), "bad": base + 1.0}, seed=0)
    assert p["served"] == p["garch_t"] == 1.0 and p["bad"] < 0.05


def test_methods_the_test_eliminates_together_each_get_their_p_value(monkeypatch):
    # arch's MCS reports the models it eliminates at the same step in one row, indexed by the list of
    # them (seen on a real run: `[6, 0]`); each of them gets that row's p-value.
    import pandas as pd

    import closecast.evaluation.significance as significance

    class Grouped:
        def __init__(self, matrix, **_):
            self.pvalues = pd.DataFrame(
                {"Pvalue": [0.1, 0.4, 1.0]}, index=pd.Index([1, [2, 0], 3], dtype=object)
            )

        def compute(self):
            pass

    monkeypatch.setattr(significance, "MCS", Grouped)
    losses = {name: np.full(10, k + 1.0) for k, name in enumerate(["a", "b", "c", "d"])}
    assert confidence_set(losses) == {"a": 0.4, "b": 0.1, "c": 0.4, "d": 1.0}
