"""The baseline a combination serves is one whose filter, run as the server runs it, gives a spread."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from closecast.distributions.predictive import LogReturnForecast
from closecast.distributions.served import Part, served_quantiles
from closecast.evaluation.baselines import fit_baseline
from closecast.evaluation.combination import SERVABLE, choose_combination, served_parts
from closecast.evaluation.comparison import baseline_forecast
from closecast.evaluation.distribution_scores import GRID
from tests.helpers.exports import csv_export


def test_a_baseline_whose_served_filter_runs_away_is_not_combined(caplog):
    # A degenerate EGARCH-t fit (a log-variance recursion with persistence above 1 and a negative
    # intercept): over the last 250 closes its served recursion runs off to zero variance. Such a fit once
    # failed the whole run. The parameters are set here: which fits degenerate depends on arch's version.
    _, closes = csv_export(400)
    fits = {name: fit_baseline(name, closes, 280, 1, 0) for name in SERVABLE}
    runaway = {**fits["egarch_t"].params, "omega": -1.0, "alpha[1]": 0.0, "gamma[1]": 0.0, "beta[1]": 1.5}
    fits["egarch_t"] = replace(fits["egarch_t"], params=runaway)
    anchors = {"val": slice(279, 339), "test": slice(339, 399)}
    y_val = np.log(closes[280:340] / closes[279:339])[:, None]
    network = Part(LogReturnForecast(np.zeros((60, 1)), np.full((60, 1), 0.01), np.full((60, 1), 5.0)), None)
    settings = {"combine": "auto", "history": 250, "recalibrate": "auto"}
    combination = choose_combination(closes, anchors, y_val, fits, network, settings, 1)
    assert combination is not None and combination.name != "egarch_t"
    assert "egarch_t is not combined: over 250 closes its spread is not positive and finite" in caplog.text
    for fc in combination.forecasts.values():
        assert np.isfinite(fc.scale).all() and (fc.scale > 0).all()


def test_the_validation_grid_it_keeps_is_the_served_distributions():
    # Validation is scored from this grid instead of computing the served quantiles again.
    _, closes = csv_export(400)
    fits = {name: fit_baseline(name, closes, 280, 1, 0) for name in SERVABLE}
    anchors = {"val": slice(279, 339), "test": slice(339, 399)}
    y_val = np.log(closes[280:340] / closes[279:339])[:, None]
    # A network a little better than a baseline, told a tenth of each day's move: the best average of the
    # two mixes them, with per-day degrees of freedom (the costly quantiles that are not computed twice).
    scale = 0.9 * baseline_forecast(fits["ewma_t"], anchors["val"]).scale + 0.1 * np.abs(y_val) + 1e-4
    df = np.random.default_rng(0).uniform(4.0, 8.0, (60, 1))
    network = Part(LogReturnForecast(np.zeros((60, 1)), scale, df), None)
    settings = {"combine": "auto", "history": 250, "recalibrate": "auto"}
    combination = choose_combination(closes, anchors, y_val, fits, network, settings, 1)
    assert combination is not None and 0 < combination.weight < 1
    served = served_quantiles(served_parts(network, combination, "val"), GRID)
    np.testing.assert_array_equal(combination.val_grid, served)
