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
