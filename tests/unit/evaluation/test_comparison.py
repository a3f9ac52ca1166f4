"""Scoring a served distribution against the baselines: the quantile-grid CRPS, served PIT values, the
recalibration rule, the reference chosen on validation only, and the tests that come with it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from closecast.distributions.predictive import LogReturnForecast, log_return_quantiles
from closecast.distributions.served import Part, served_quantiles
from closecast.evaluation import scoring_rules as S
from closecast.evaluation.baselines import BaselineFit
from closecast.evaluation.comparison import compare
from closecast.evaluation.distribution_scores import GRID, grid_crps, grid_pit
from closecast.evaluation.recalibration import choose_pit


def t_forecast(n: int, scale: float, df: float = 5.0) -> LogReturnForecast:
    return LogReturnForecast(np.zeros((n, 1)), np.full((n, 1), scale), np.full((n, 1), df))


def test_the_grid_crps_is_within_a_fifth_of_a_percent_of_the_closed_form():
    rng = np.random.default_rng(0)
    y = 0.01 * rng.standard_t(5, (20_000, 1))
    fc = t_forecast(len(y), 0.01)
    grid = grid_crps(y, log_return_quantiles(fc, None, GRID)).mean()
    exact = S.crps(y, fc.loc, fc.scale, fc.df).mean()
    assert exact < grid < 1.002 * exact


def test_served_pit_values_are_the_forecast_cdf_at_the_outcome():
    rng = np.random.default_rng(1)
    y = 0.01 * rng.standard_t(5, (500, 1))
    fc = t_forecast(len(y), 0.012)
    pit = grid_pit(y, log_return_quantiles(fc, None, GRID))
    inside = (fc.cdf(y) > GRID[0]) & (fc.cdf(y) < GRID[-1])
    np.testing.assert_allclose(pit[inside], fc.cdf(y)[inside], atol=2e-4)
    assert set(np.unique(pit[~inside])) <= {0.0, 1.0}


def test_a_quantile_average_weights_its_parts_and_refuses_weights_that_do_not_sum_to_one():
    a, b = t_forecast(3, 0.01), t_forecast(3, 0.03)
    q = served_quantiles([Part(a, None, 0.25), Part(b, None, 0.75)], [0.1, 0.9])
    expected = 0.25 * log_return_quantiles(a, None, [0.1, 0.9]) + 0.75 * log_return_quantiles(
        b, None, [0.1, 0.9]
    )
    np.testing.assert_allclose(q, expected)
    with pytest.raises(ValueError, match="sum to 1"):
        served_quantiles([Part(a, None, 0.5)], [0.5])


def test_auto_recalibration_is_kept_only_where_it_helps_the_second_half_of_validation():
    rng = np.random.default_rng(2)
    n = 800
    fc = t_forecast(n, 0.01)
    # Outcomes twice as spread as forecast throughout: recalibration widens, and pays on the second half.
    wide = 0.02 * rng.standard_t(5, (n, 1)) * np.sqrt(3 / 5)
    assert choose_pit(fc, wide, "auto") is not None
    # Spread only in the first half: recalibrating from it would widen a second half that was right.
    shifted = np.vstack([wide[: n // 2], 0.01 * rng.standard_t(5, (n - n // 2, 1))])
    assert choose_pit(fc, shifted, "auto") is None
    assert choose_pit(fc, shifted, "always").shape == (n, 1)
    assert choose_pit(fc, wide, "never") is None
    with pytest.raises(ValueError, match="calibration.recalibrate='sometimes'"):
        choose_pit(fc, wide, "sometimes")


def _fit(name: str, sigma: np.ndarray) -> BaselineFit:
    return BaselineFit(name, sigma[:, None], np.full(len(sigma), 6.0), {})


def test_the_reference_is_the_strong_baseline_best_on_validation_even_when_another_wins_test():
    rng = np.random.default_rng(3)
    n_val, n_test = 400, 400
    true = np.concatenate([np.full(n_val, 0.01), np.full(n_test, 0.02)])
    y = true[:, None] * rng.standard_t(6, (len(true), 1)) * np.sqrt(4 / 6)
    prices = len(true) + 1
    # egarch_t is right on validation only, garch_t on test only; constant is never a reference.
    fits = {
        "constant": _fit("constant", np.full(prices, 0.015)),
        "egarch_t": _fit("egarch_t", np.r_[0.0, np.full(n_val, 0.01), np.full(n_test, 0.01)]),
        "garch_t": _fit("garch_t", np.r_[0.0, np.full(n_val, 0.03), np.full(n_test, 0.02)]),
    }
    anchors = {"val": slice(1, 1 + n_val), "test": slice(1 + n_val, 1 + n_val + n_test)}
    ys = {"val": y[:n_val], "test": y[n_val:]}
    # The served "model" is garch_t's own forecast: it must tie itself, and beat the reference on test.
    own = {
        p: LogReturnForecast(
            np.zeros_like(ys[p]), fits["garch_t"].scale(anchors[p]), np.full_like(ys[p], 6.0)
        )
        for p in ys
    }
    served = {p: [Part(own[p], None)] for p in ys}
    result = compare(ys, anchors, fits, served=served, recalibrate="never")
    assert result.reference == "egarch_t"
    m = result.metrics
    assert m["val/egarch_t/served/crps"] < m["val/garch_t/served/crps"]
    assert m["test/garch_t/served/crps"] < m["test/egarch_t/served/crps"]
    assert m["test/served/crps"] == pytest.approx(m["test/garch_t/served/crps"])
    assert (
        m["test/served/vs_reference"] < 1 and m["test/served/dm_t"] < -1.96 and m["test/served/dm_p"] < 0.05
    )
    assert m["test/served/in_mcs"] == 1.0 and m["test/egarch_t/served/in_mcs"] == 0.0
    assert m["test/served/var05/rate"] == pytest.approx(0.05, abs=0.03)
    assert m["test/egarch_t/served/var05/kupiec"] < 0.01  # half the spread: far too many failures
    assert m["baselines/egarch_t/recalibrated"] == 0.0


def test_without_a_network_distribution_only_the_baselines_are_scored():
    rng = np.random.default_rng(4)
    y = 0.01 * rng.standard_normal((200, 1))
    fits = {"constant": _fit("constant", np.full(201, 0.01)), "gjr_t": _fit("gjr_t", np.full(201, 0.01))}
    result = compare({"val": y[:100], "test": y[100:]}, {"val": slice(1, 101), "test": slice(101, 201)}, fits)
    assert result.reference == "gjr_t" and "test/served/crps" not in result.metrics
    assert "test/gjr_t/served/crps" in result.metrics and not result.losses.get("served")


def test_student_t_quantiles_with_shared_degrees_of_freedom_match_scipy():
    df = np.r_[np.full(50, 4.0), np.full(50, 7.5)][:, None, None]
    levels = np.array(GRID[::50])[None, None, :]
    from closecast.distributions.predictive import quantile

    np.testing.assert_allclose(quantile(levels, 0.0, 1.0, df), stats.t.ppf(levels, df), rtol=1e-12)
