"""Volatility baselines: no look-ahead (refits included), training-only parameters, the EWMA recursion by
hand, Student-t scales, and skill on simulated GARCH data."""

import numpy as np
import pandas as pd
import pytest
from arch.univariate import GARCH, Normal, ZeroMean

from closecast.evaluation import baselines as V
from closecast.evaluation import scoring_rules as S
from tests.helpers.configs import ROOT

SAMPLE = ROOT / "data" / "sample" / "IBM.csv"


def sample_prices() -> np.ndarray:
    return pd.read_csv(SAMPLE)["Adj Close"].to_numpy(float)[:1200]


def sigma_of(name: str, prices: np.ndarray, n_train: int, horizon: int = 1) -> np.ndarray:
    return V.fit_baseline(name, prices, n_train, horizon, refit_every=100).sigma


def simulated_garch(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Prices from a GARCH(1,1) on percent returns, and the true one-step sigma of each next log return."""
    model = ZeroMean(volatility=GARCH(), distribution=Normal(seed=np.random.default_rng(seed)))
    sim = model.simulate([0.05, 0.15, 0.82], n, burn=500)
    returns = sim["data"].to_numpy() / 100
    prices = 50.0 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    return prices, sim["volatility"].to_numpy() / 100  # volatility[i] is the sigma of returns[i]


@pytest.mark.parametrize(
    "name", [*V.FIXED, *V.REFIT]
)  # the range ones: tests/unit/evaluation/test_range_baseline.py
def test_a_test_period_price_cannot_change_an_earlier_forecast(name):
    prices = sample_prices()
    n_train, changed = 840, 1100
    before = sigma_of(name, prices, n_train, horizon=3)
    edited = prices.copy()
    edited[changed] *= 1.25
    after = sigma_of(name, edited, n_train, horizon=3)
    np.testing.assert_array_equal(before[1:changed], after[1:changed])
    if name != "constant":  # the recursions do react to the new price from its own day on
        assert np.abs(before[changed:] - after[changed:]).max() > 1e-4


@pytest.mark.parametrize("name", ["garch", "garch_t", "gjr_t", "egarch_t", "ewma_t"])
def test_parameters_come_from_the_training_part_only(name):
    prices = sample_prices()
    # Forecasts made before the end of training equal those of a series that stops there.
    full = V.fit_baseline(name, prices, 840, horizon=2)
    short = V.fit_baseline(name, prices[:840], 840, horizon=2)
    np.testing.assert_allclose(full.sigma[1:840], short.sigma[1:840], rtol=1e-12)
    assert full.params == short.params


def test_a_refit_changes_forecasts_only_from_its_own_origin_on():
    prices = sample_prices()
    fixed = V.fit_baseline("gjr_t", prices, 840, refit_every=100)
    refit = V.fit_baseline("gjr_t_refit", prices, 840, refit_every=100)
    # The first refit is fitted on prices 0..939 and forecasts from price 939 on.
    np.testing.assert_array_equal(refit.sigma[1:939], fixed.sigma[1:939])
    np.testing.assert_array_equal(refit.df[:939], fixed.df[:939])
    assert np.abs(refit.sigma[939:] - fixed.sigma[939:]).max() > 0
    assert refit.df[939] != fixed.df[939] and refit.df[1039] != refit.df[939]
    with pytest.raises(ValueError, match="refit_every=0"):
        V.fit_baseline("gjr_t_refit", prices, 840, refit_every=0)


def test_all_baselines_together_fit_each_training_model_once_and_match_one_by_one(monkeypatch):
    prices = sample_prices()[:1000]
    names = V.baseline_names(100)  # the closes-only ones: the range ones fit no GARCH-family model
    alone = {n: V.fit_baseline(n, prices, 840, 2, refit_every=100) for n in names}
    calls = []
    real_filter = V._filter
    monkeypatch.setattr(V, "_filter", lambda spec, *a: calls.append((spec, a[1])) or real_filter(spec, *a))
    together = V.fit_baselines(names, prices, 840, 2, refit_every=100)
    for name, fit in alone.items():
        np.testing.assert_array_equal(together[name].sigma, fit.sigma)
        if fit.df is not None:
            np.testing.assert_array_equal(together[name].df, fit.df)
        assert together[name].params == fit.params
    training = [(spec.process, spec.student_t) for spec, last_obs in calls if last_obs == 839]
    assert len(training) == len(set(training)) == len(V.FIXED) - 1  # every model but `constant`, once


def test_student_t_baselines_have_the_forecast_variance_and_fitted_tails():
    prices = sample_prices()
    fit = V.fit_baseline("egarch_t", prices, 840)
    nu = fit.df[1:, None]
    assert 2 < nu.min() == nu.max() < 30  # daily returns have fat tails: a few degrees of freedom
    np.testing.assert_allclose(fit.scale(slice(1, None)) ** 2 * nu / (nu - 2), fit.sigma[1:] ** 2)
    assert fit.degrees(slice(1, None)).shape == (len(prices) - 1, 1)
    assert V.fit_baseline("garch", prices, 840).degrees(slice(1, None)) is None
    # EGARCH has no analytic multi-step forecast: its spread is flat per step (√h).
    two = V.fit_baseline("egarch_t", prices, 840, horizon=2).sigma
    np.testing.assert_allclose(two[1:, 1], np.sqrt(2) * two[1:, 0], rtol=1e-12)


def test_ewma_follows_the_riskmetrics_recursion_on_a_hand_example():
    returns = np.array([0.01, -0.02, 0.03, 0.0])
    prices = 100 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    lam = 0.94
    # Started from the λ-weighted mean of the early squared returns (here all four are early).
    weights = lam ** np.arange(4) / (lam ** np.arange(4)).sum()
    var = [float((weights * returns**2).sum())]
    for r in returns:
        var.append(lam * var[-1] + (1 - lam) * r**2)
    sigma = sigma_of("ewma", prices, n_train=5, horizon=2)
    assert np.isnan(sigma[0]).all()
    # Row t is the forecast made at price t: it has seen returns 0..t-1, so its first step is var[t].
    np.testing.assert_allclose(sigma[1:, 0], np.sqrt(var[1:]), rtol=1e-10)
    np.testing.assert_allclose(sigma[1:, 1], np.sqrt(2) * sigma[1:, 0], rtol=1e-10)  # flat: √h


def test_constant_is_the_training_std_scaled_by_sqrt_of_the_steps():
    prices = sample_prices()
    sigma = sigma_of("constant", prices, 840, horizon=4)
    expected = np.diff(np.log(prices[:840])).std(ddof=1) * np.sqrt([1, 2, 3, 4])
    np.testing.assert_allclose(sigma[1:], np.broadcast_to(expected, sigma[1:].shape))


def test_garch_multi_step_spread_grows_toward_its_long_run_level():
    prices = sample_prices()
    one = sigma_of("garch", prices, 840, horizon=1)
    five = sigma_of("garch", prices, 840, horizon=5)
    np.testing.assert_allclose(five[1:, 0], one[1:, 0], rtol=1e-12)
    assert (np.diff(five[1:], axis=1) > 0).all()  # cumulative spreads of positive variances


def test_known_sigma_has_skill_over_constant_and_fitted_garch_recovers_most_of_it():
    prices, true_sigma = simulated_garch(3000, seed=3)
    n_train = 2100
    returns = np.diff(np.log(prices))
    anchors = np.arange(n_train, len(prices) - 1)  # forecasts from price t for the return t -> t+1
    outcome = returns[anchors]

    def crps_of(sigma: np.ndarray) -> float:
        return float(S.crps_gaussian(outcome, 0.0, sigma).mean())

    reference = crps_of(sigma_of("constant", prices, n_train)[anchors, 0])
    perfect = S.skill(crps_of(true_sigma[anchors]), reference)
    garch = S.skill(crps_of(sigma_of("garch", prices, n_train)[anchors, 0]), reference)
    late = S.skill(crps_of(sigma_of("garch", prices, n_train)[anchors - 1, 0]), reference)
    assert perfect > 0.02
    assert garch > 0.6 * perfect
    assert late < garch  # a forecast one day stale loses skill: the rows are aligned to their anchors


def test_bad_inputs_name_the_value_and_the_way_out():
    with pytest.raises(ValueError, match="n_train=2"):
        V.fit_baseline("garch", np.array([1.0, 2.0, 3.0]), 2)
    with pytest.raises(ValueError, match="positive prices"):
        V.fit_baseline("ewma", np.array([1.0, -2.0, 3.0]), 3)
    with pytest.raises(ValueError, match="one of"):
        V.fit_baseline("har", np.array([1.0, 2.0, 3.0]), 3)
