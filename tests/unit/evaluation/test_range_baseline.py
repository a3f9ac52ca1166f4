"""The HAR range baseline: no look-ahead (refits included), its regression and scale fitted on training
days only, unit-variance standardized training returns, scored only where High/Low were read, and the
reference a range model is held against where the range carries the volatility."""

import numpy as np
import pandas as pd
import pytest

from closecast.distributions.predictive import LogReturnForecast
from closecast.distributions.served import Part
from closecast.evaluation import baselines as V
from closecast.evaluation import range_baseline as R
from closecast.evaluation.baseline_cache import fitted_baselines
from closecast.evaluation.combination import SERVABLE, choose_combination
from closecast.evaluation.comparison import compare
from tests.helpers.configs import ROOT

SAMPLE = ROOT / "data" / "sample" / "IBM.csv"
N_TRAIN = 840


def sample_days() -> tuple[np.ndarray, np.ndarray]:
    """The first 1200 closes of the bundled IBM sample and their days' High and Low `(n, 2)`."""
    frame = pd.read_csv(SAMPLE).iloc[:1200]
    return frame["Adj Close"].to_numpy(float), frame[["High", "Low"]].to_numpy(float)


@pytest.mark.parametrize("name", list(V.RANGE))
def test_a_later_price_or_range_changes_no_earlier_forecast(name):
    prices, high_low = sample_days()
    before = V.fit_baseline(name, prices, N_TRAIN, 3, 100, high_low)
    changed = 1100
    edited_prices, edited_ranges = prices.copy(), high_low.copy()
    edited_prices[changed] *= 1.25
    edited_ranges[changed] *= [1.3, 0.8]
    after = V.fit_baseline(name, edited_prices, N_TRAIN, 3, 100, edited_ranges)
    np.testing.assert_array_equal(before.sigma[:changed], after.sigma[:changed])
    np.testing.assert_array_equal(before.df[:changed], after.df[:changed])
    assert np.abs(before.sigma[changed:] - after.sigma[changed:]).max() > 1e-4  # it reads its own day


def test_the_regression_scale_and_tails_come_from_the_training_days_only():
    prices, high_low = sample_days()
    full = V.fit_baseline("har_range_t", prices, N_TRAIN, 2, 0, high_low)
    short = V.fit_baseline("har_range_t", prices[:N_TRAIN], N_TRAIN, 2, 0, high_low[:N_TRAIN])
    assert full.params == short.params
    np.testing.assert_allclose(full.sigma[:N_TRAIN], short.sigma, rtol=1e-12)
    # The OLS by hand on the training pairs (day t, day t + 1), t from the 22nd day on.
    x = np.log(R.parkinson_variance(high_low[:N_TRAIN]))
    design = R.har_regressors(x)
    rows = np.arange(21, N_TRAIN - 1)
    beta = np.linalg.lstsq(design[rows], x[rows + 1], rcond=None)[0]
    np.testing.assert_allclose([full.params[f"beta_{k}"] for k in ("const", "1", "5", "22")], beta)
    np.testing.assert_allclose(design[30, 1:], [x[30], x[26:31].mean(), x[9:31].mean()])


def test_standardized_training_returns_have_unit_variance_and_fitted_tails():
    prices, high_low = sample_days()
    fit = V.fit_baseline("har_range_t", prices, N_TRAIN, 1, 0, high_low)
    returns = np.diff(np.log(prices))
    z = returns[21 : N_TRAIN - 1] / fit.sigma[21 : N_TRAIN - 1, 0]
    assert np.mean(z**2) == pytest.approx(1.0, rel=1e-9)  # the bias of exp(E log v) is taken out
    assert 2.05 < fit.params["nu"] < 30  # daily returns have fat tails
    np.testing.assert_allclose(fit.scale(slice(0, 5)) ** 2 * fit.df[0] / (fit.df[0] - 2), fit.sigma[:5] ** 2)


def test_a_refit_changes_forecasts_only_from_its_own_origin_on():
    prices, high_low = sample_days()
    fixed = V.fit_baseline("har_range_t", prices, N_TRAIN, 1, 100, high_low)
    refit = V.fit_baseline("har_range_t_refit", prices, N_TRAIN, 1, 100, high_low)
    np.testing.assert_array_equal(refit.sigma[:939], fixed.sigma[:939])
    assert np.abs(refit.sigma[939:] - fixed.sigma[939:]).max() > 0 and refit.df[1039] != refit.df[939]


def test_range_baselines_are_scored_only_where_high_and_low_were_read():
    prices, high_low = sample_days()
    assert not set(V.RANGE) & set(V.baseline_names(250))
    assert set(V.RANGE) <= set(V.baseline_names(250, ranges=True))
    assert "har_range_t_refit" not in V.baseline_names(0, ranges=True)
    fits = fitted_baselines(prices, N_TRAIN, 1, {"refit_every": 0}, high_low)
    assert "har_range_t" in fits and "har_range_t" not in fitted_baselines(prices, N_TRAIN, 1, {})
    with pytest.raises(ValueError, match="High and Low; pass high_low"):
        V.fit_baseline("har_range_t", prices, N_TRAIN)
    with pytest.raises(ValueError, match="High/Low cover 1199 days, the prices 1200"):
        V.fit_baseline("har_range_t", prices, N_TRAIN, high_low=high_low[1:])


def ranged_days(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Prices whose daily volatility wanders slowly and whose High/Low each day show that volatility."""
    rng = np.random.default_rng(seed)
    log_vol = np.log(0.015) + np.cumsum(rng.normal(0.0, 0.08, n)) * 0.3
    vol = np.exp(log_vol - log_vol.mean() + np.log(0.015))
    returns = vol[1:] * rng.standard_normal(n - 1)
    prices = 50.0 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    half = vol * np.abs(rng.normal(1.0, 0.2, n))  # the day's half-range, from that day's volatility
    return prices, np.column_stack([prices * np.exp(half), prices * np.exp(-half)])


def test_where_the_range_carries_the_volatility_the_har_baseline_is_the_reference_but_never_combined():
    prices, high_low = ranged_days(1500, 0)
    n_train, n_val = 900, 300
    fits = fitted_baselines(prices, n_train, 1, {"refit_every": 0}, high_low)
    anchors = {"val": slice(n_train - 1, n_train + n_val - 1), "test": slice(n_train + n_val - 1, 1499)}
    returns = np.diff(np.log(prices))
    y = {p: returns[a][:, None] for p, a in anchors.items()}
    comparison = compare(y, anchors, fits)
    assert comparison.reference == "har_range_t"
    val = {b: comparison.metrics[f"val/{b}/served/crps"] for b in V.STRONG if b in fits}
    assert min(val, key=val.get) == "har_range_t"  # chosen on validation
    # The server has no HAR filter: what is served combines a servable baseline only.
    network = Part(
        LogReturnForecast(np.zeros((n_val, 1)), np.full((n_val, 1), 0.015), np.full((n_val, 1), 5.0)), None
    )
    settings = {"combine": "auto", "history": 250, "recalibrate": "auto"}
    combination = choose_combination(prices, anchors, y["val"], fits, network, settings, 1)
    assert combination is not None and combination.name in SERVABLE
