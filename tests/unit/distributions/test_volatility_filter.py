"""The served baselines' recursion in numpy matches `arch`'s filter with the same fitted parameters, reads
only the history it is given, and refuses specs it cannot run."""

from __future__ import annotations

import numpy as np
import pytest

from closecast.distributions.volatility_filter import (
    FilterSpec,
    filter_forecast,
    history_returns,
    one_step_variance,
)
from closecast.evaluation.baselines import fit_baseline
from tests.helpers.configs import sample_closes

PROCESS = {"ewma_t": "ewma", "garch_t": "garch", "gjr_t": "gjr", "egarch_t": "egarch"}


@pytest.mark.parametrize("name", list(PROCESS))
def test_the_numpy_filter_over_the_whole_past_equals_arch(name):
    prices = np.asarray(sample_closes(500), dtype=float)
    fit = fit_baseline(name, prices, 350)
    params = {k: v for k, v in fit.params.items() if k != "backcast"}
    spec = FilterSpec(PROCESS[name], params, fit.params["backcast"], history=len(prices))
    origins = np.arange(5, len(prices))
    windows = np.full((len(origins), len(prices)), np.nan)
    for i, t in enumerate(origins):  # every past price of each origin, NaN-padded on the left
        windows[i, -(t + 1) :] = prices[: t + 1]
    var = one_step_variance(spec, np.diff(np.log(windows), axis=1))
    np.testing.assert_allclose(np.sqrt(var), fit.sigma[origins, 0], rtol=1e-9)
    fc = filter_forecast(spec, history_returns(windows, len(prices)), horizon=2)
    np.testing.assert_allclose(fc.scale[:, 0] ** 2 * fc.df[:, 0] / (fc.df[:, 0] - 2), var, rtol=1e-12)
    np.testing.assert_allclose(fc.scale[:, 1], np.sqrt(2) * fc.scale[:, 0], rtol=1e-12)


def test_only_the_last_history_returns_are_read():
    prices = np.asarray(sample_closes(400), dtype=float)
    spec = FilterSpec("garch", {"omega": 0.05, "alpha[1]": 0.08, "beta[1]": 0.9}, 1.5, history=50)
    a = history_returns(prices[None], 50)
    edited = prices.copy()
    edited[:300] *= np.linspace(0.5, 2.0, 300)  # anything older than the last 51 prices
    assert a.shape == (1, 50)
    np.testing.assert_array_equal(history_returns(edited[None], 50), a)
    short = history_returns(prices[None, -10:], 50)
    assert np.isnan(short[0, :41]).all() and np.isfinite(short[0, 41:]).all()
    assert np.isfinite(filter_forecast(spec, short, 1).scale).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"process": "har"}, "not one of"),
        ({"process": "garch", "history": 0}, "positive integer"),
        ({"process": "garch", "params": {"omega": float("nan")}}, "finite"),
    ],
)
def test_a_bad_spec_is_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FilterSpec(**kwargs)


@pytest.mark.parametrize("process", ["ewma", "garch", "gjr", "egarch"])
def test_one_spec_per_row_gives_each_row_what_its_own_spec_gives(process):
    # A batch of several series' requests runs in one filter, each row by its own series' parameters;
    # rows of different lengths are NaN-padded on the left, the shortest padding every row has is skipped.
    rng = np.random.default_rng(3)
    specs = [
        FilterSpec(
            process,
            {
                "omega": 0.02 + 0.01 * i,
                "alpha[1]": 0.05 + 0.01 * i,
                "gamma[1]": 0.03 * i,
                "beta[1]": 0.9 - 0.02 * i,
                "nu": 5.0 + i,
            },
            1.2 + 0.3 * i,
            history=60,
        )
        for i in range(4)
    ]
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (4, 80)), axis=1))
    windows = np.full((4, 80), np.nan)
    for i, keep in enumerate([80, 30, 12, 2]):
        windows[i, -keep:] = prices[i, -keep:]
    returns = history_returns(windows[:, -30:], 60)  # 31 leading columns no row has seen
    together = filter_forecast(specs, returns, horizon=3)
    assert np.isnan(returns[:, :31]).all()
    np.testing.assert_array_equal(filter_forecast(specs, returns[:, 31:], horizon=3).scale, together.scale)
    for i, spec in enumerate(specs):
        alone = filter_forecast(spec, returns[i : i + 1], horizon=3)
        np.testing.assert_allclose(together.scale[i], alone.scale[0], rtol=1e-13)
        np.testing.assert_array_equal(together.df[i], alone.df[0])
    with pytest.raises(ValueError, match="one filter spec per row"):
        one_step_variance(specs[:2], returns)
    gaussian = FilterSpec(process, {"omega": 0.02, "alpha[1]": 0.05, "beta[1]": 0.9}, 1.0, history=60)
    with pytest.raises(ValueError, match="all have Student-t degrees of freedom or none"):
        filter_forecast([*specs[:3], gaussian], returns, horizon=1)
