"""Baselines and scores against hand-computed values; conformal intervals on cases with known quantiles."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from closecast.data.codec import Codec
from closecast.distributions.calibration import Calibration
from closecast.distributions.conformal import conformal_quantile, interval_bounds, log_residuals, part_scale
from closecast.evaluation.point import interval_coverage, point_metrics, score_forecasts


def test_point_metrics_match_hand_computed_values():
    actual = np.array([10.0, 12.0, 9.0, 11.0])
    pred = np.array([11.0, 11.0, 10.0, 11.0])  # errors +1, -1, +1, 0
    m = point_metrics(pred, actual)
    assert m["mae"] == pytest.approx(3 / 4)
    assert m["rmse"] == pytest.approx(math.sqrt(3 / 4))
    assert m["mape"] == pytest.approx(100 * (1 / 10 + 1 / 12 + 1 / 9 + 0) / 4)
    assert m["smape"] == pytest.approx(200 * (1 / 21 + 1 / 23 + 1 / 19 + 0) / 4)


def test_score_forecasts_scores_model_naive_and_drift_per_step_by_hand():
    # Two samples, horizon 2: last observed prices and the two prices after each.
    last = np.array([100.0, 110.0])
    actual = np.array([[102.0, 104.0], [108.0, 111.0]])
    model = np.array([[101.0, 103.0], [109.0, 112.0]])
    codec = Codec.fit(torch.tensor([100.0, 120.0, 121.0]), "return", window=2, horizon=2)
    assert codec.drift == pytest.approx(math.log(1.1))  # mean log return: log(121 / 100) / 2
    drift = codec.drift_forecast(torch.from_numpy(last)).numpy()
    np.testing.assert_allclose(drift, [[110.0, 121.0], [121.0, 133.1]])

    report = score_forecasts({"model": model, "drift": drift}, actual, last)
    assert set(report) == {"naive", "model", "drift"}
    # naive errors: step 1: 2, 2 → MAE 2; step 2: 4, 1 → MAE 2.5; overall 9/4.
    assert report["naive"]["h1/mae"] == pytest.approx(2.0)
    assert report["naive"]["h2/mae"] == pytest.approx(2.5)
    assert report["naive"]["mae"] == pytest.approx(9 / 4)
    # model errors are all 1.
    assert report["model"]["mae"] == pytest.approx(1.0)
    assert report["model"]["mase"] == pytest.approx(1.0 / (9 / 4))
    assert report["model"]["h1/mase"] == pytest.approx(1.0 / 2.0)
    assert report["model"]["h2/mase"] == pytest.approx(1.0 / 2.5)
    assert report["model"]["h2/rmse"] == pytest.approx(1.0)
    # drift errors: step 1: 8, 13; step 2: 17, 22.1.
    assert report["drift"]["h1/mae"] == pytest.approx(10.5)
    assert report["drift"]["h2/mae"] == pytest.approx(19.55)
    assert report["drift"]["mase"] == pytest.approx((8 + 13 + 17 + 22.1) / 4 / (9 / 4))
    assert report["drift"]["h1/mape"] == pytest.approx(100 * (8 / 102 + 13 / 108) / 2)


def test_naive_mase_is_exactly_one_overall_and_per_step():
    rng = np.random.default_rng(0)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 600)))
    window = np.lib.stride_tricks.sliding_window_view(prices, 4)
    last, actual = window[:, 0], window[:, 1:]
    report = score_forecasts({"model": actual * 1.01}, actual, last)
    for key in ("mase", "h1/mase", "h2/mase", "h3/mase"):
        assert report["naive"][key] == 1.0
    assert report["model"]["mase"] != 1.0


def test_conformal_radius_is_the_finite_sample_rank():
    residuals = np.arange(1, 101, dtype=np.float64) / 100  # 0.01 .. 1.00, sorted
    # rank = ceil(101 * 0.9) = 91 → the 91st smallest.
    assert conformal_quantile(residuals, 0.9)[0] == pytest.approx(0.91)
    assert conformal_quantile(residuals, 0.5)[0] == pytest.approx(0.51)
    # ceil(101 * 0.995) = 101 > 100 residuals: no finite radius has the guarantee.
    assert math.isinf(conformal_quantile(residuals, 0.995)[0])
    # Level 1 (what a quantile level within a rounding of 0 or 1 asks for) has no finite radius either.
    assert math.isinf(conformal_quantile(residuals, 1.0)[0])
    for level in (0.0, 1.5):
        with pytest.raises(ValueError, match=r"must be in \(0, 1\]"):
            conformal_quantile(residuals, level)


def test_conformal_coverage_on_a_case_with_known_quantiles():
    # |N(0, 1)| has its 90% quantile at 1.6449 and its 80% at 1.2816: the radius must land there and a
    # fresh sample from the same law must be covered at the nominal rate.
    rng = np.random.default_rng(1)
    calibration = np.sort(np.abs(rng.normal(size=(20_000, 2))) * np.array([1.0, 2.0]), axis=0)
    fresh = rng.normal(size=(20_000, 2)) * np.array([1.0, 2.0])
    for level, z in ((0.9, 1.6449), (0.8, 1.2816)):
        radius = conformal_quantile(calibration, level)
        np.testing.assert_allclose(radius, [z, 2 * z], rtol=0.03)
        coverage = interval_coverage(fresh, -radius, radius)
        assert abs(coverage - level) < 0.01
    # Coverage counts the boundary as inside and nothing else.
    assert interval_coverage(np.array([0.0, 1.0, 2.0, 3.0]), np.zeros(4), np.full(4, 2.0)) == 0.75


def test_residual_scale_is_the_window_volatility_or_one():
    prices = torch.tensor([[100.0, 110.0, 99.0, 99.0], [50.0, 50.0, 50.0, 50.0]])
    returns = np.diff(np.log(prices[0].numpy().astype(np.float64)))
    window = Calibration(torch.zeros(3, 1), interval_scale="window")
    scale = window.residual_scale(prices).numpy()
    assert scale[0] == pytest.approx(np.std(returns, ddof=1))
    assert 0 < scale[1] < 1e-7  # a flat window gets the floor, not zero
    plain = Calibration(torch.zeros(3, 1))
    np.testing.assert_array_equal(plain.residual_scale(prices).numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match="interval_scale"):
        Calibration(torch.zeros(3, 1), interval_scale="garch")


def _regime(rng: np.random.Generator, n: int, sigma: float, window: int = 30) -> SimpleNamespace:
    """`n` windows of log-normal prices with daily volatility `sigma`, and the next price of each."""
    steps = rng.normal(0.0, sigma, size=(n, window + 1))
    paths = 100 * np.exp(np.cumsum(steps, axis=1))
    return SimpleNamespace(
        window_prices=torch.from_numpy(paths[:, :window]),
        last=paths[:, window - 1],
        future=paths[:, window:],
    )


def test_volatility_scaled_intervals_keep_coverage_when_the_regime_calms_down():
    # Calibrated on a turbulent period (3% daily moves), used on a calm one (1%): plain residuals
    # over-cover badly; residuals relative to each window's volatility stay exchangeable, so the
    # interval covers at the nominal rate.
    rng = np.random.default_rng(2)
    turbulent, calm = _regime(rng, 4000, 0.03), _regime(rng, 4000, 0.01)
    coverage = {}
    for mode in ("none", "window"):
        cal_pred, test_pred = turbulent.last[:, None], calm.last[:, None]  # the naive forecast
        residuals = log_residuals(cal_pred, turbulent.future, part_scale(mode, turbulent))
        calibration = Calibration(torch.from_numpy(residuals), interval_scale=mode)
        lower, upper = interval_bounds(calibration, test_pred, calm, 0.9)
        coverage[mode] = interval_coverage(calm.future, lower, upper)
    assert coverage["none"] > 0.99
    assert abs(coverage["window"] - 0.9) < 0.015
