"""Volatility baselines: no look-ahead, the EWMA recursion by hand, and skill on simulated GARCH data."""

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


def simulated_garch(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Prices from a GARCH(1,1) on percent returns, and the true one-step sigma of each next log return."""
    model = ZeroMean(volatility=GARCH(), distribution=Normal(seed=np.random.default_rng(seed)))
    sim = model.simulate([0.05, 0.15, 0.82], n, burn=500)
    returns = sim["data"].to_numpy() / 100
    prices = 50.0 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    return prices, sim["volatility"].to_numpy() / 100  # volatility[i] is the sigma of returns[i]


@pytest.mark.parametrize("name", V.BASELINES)
def test_a_test_period_price_cannot_change_an_earlier_forecast(name):
    prices = sample_prices()
    n_train, changed = 840, 1100
    before = V.baseline_sigma(name, prices, n_train, horizon=3)
    edited = prices.copy()
    edited[changed] *= 1.25
    after = V.baseline_sigma(name, edited, n_train, horizon=3)
    np.testing.assert_array_equal(before[1:changed], after[1:changed])
    if name != "constant":  # the recursions do react to the new price from its own day on
        assert np.abs(before[changed:] - after[changed:]).max() > 1e-4


def test_garch_parameters_come_from_the_training_part_only():
    prices = sample_prices()
    # Forecasts made before the end of training equal those of a series that stops there.
    full = V.garch_sigma(prices, 840, horizon=2)
    short = V.garch_sigma(prices[:840], 840, horizon=2)
    np.testing.assert_allclose(full[1:840], short[1:840], rtol=1e-12)


def test_ewma_follows_the_riskmetrics_recursion_on_a_hand_example():
    returns = np.array([0.01, -0.02, 0.03, 0.0])
    prices = 100 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    lam = 0.94
    # Started from the λ-weighted mean of the early squared returns (here all four are early).
    weights = lam ** np.arange(4) / (lam ** np.arange(4)).sum()
    var = [float((weights * returns**2).sum())]
    for r in returns:
        var.append(lam * var[-1] + (1 - lam) * r**2)
    sigma = V.ewma_sigma(prices, n_train=5, horizon=2)
    assert np.isnan(sigma[0]).all()
    # Row t is the forecast made at price t: it has seen returns 0..t-1, so its first step is var[t].
    np.testing.assert_allclose(sigma[1:, 0], np.sqrt(var[1:]), rtol=1e-10)
    np.testing.assert_allclose(sigma[1:, 1], np.sqrt(2) * sigma[1:, 0], rtol=1e-10)  # flat: √h


def test_constant_is_the_training_std_scaled_by_sqrt_of_the_steps():
    prices = sample_prices()
    sigma = V.constant_sigma(prices, 840, horizon=4)
    expected = np.diff(np.log(prices[:840])).std(ddof=1) * np.sqrt([1, 2, 3, 4])
    np.testing.assert_allclose(sigma[1:], np.broadcast_to(expected, sigma[1:].shape))


def test_garch_multi_step_spread_grows_toward_its_long_run_level():
    prices = sample_prices()
    one = V.garch_sigma(prices, 840, horizon=1)
    five = V.garch_sigma(prices, 840, horizon=5)
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

    reference = crps_of(V.constant_sigma(prices, n_train)[anchors, 0])
    perfect = S.skill(crps_of(true_sigma[anchors]), reference)
    garch = S.skill(crps_of(V.garch_sigma(prices, n_train)[anchors, 0]), reference)
    late = S.skill(crps_of(V.garch_sigma(prices, n_train)[anchors - 1, 0]), reference)
    assert perfect > 0.02
    assert garch > 0.6 * perfect
    assert late < garch  # a forecast one day stale loses skill: the rows are aligned to their anchors


def test_bad_inputs_name_the_value_and_the_way_out():
    with pytest.raises(ValueError, match="n_train=2"):
        V.garch_sigma(np.array([1.0, 2.0, 3.0]), 2)
    with pytest.raises(ValueError, match="positive prices"):
        V.ewma_sigma(np.array([1.0, -2.0, 3.0]), 3)
    with pytest.raises(ValueError, match="one of"):
        V.baseline_sigma("har", np.array([1.0, 2.0, 3.0]), 3)
