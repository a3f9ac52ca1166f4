"""The baseline a combination serves is one whose filter, run as the server runs it, gives a spread."""

from __future__ import annotations

import numpy as np

from closecast.distributions.predictive import LogReturnForecast
from closecast.distributions.served import Part
from closecast.evaluation.baselines import fit_baseline
from closecast.evaluation.combination import SERVABLE, choose_combination
from tests.helpers.exports import csv_export


def test_a_baseline_whose_served_filter_runs_away_is_not_combined(caplog):
    # On this short random walk the EGARCH-t fit has a negative size effect: over the last 250 closes
    # from the training backcast its recursion runs off to zero variance. It once failed the whole run.
    _, closes = csv_export(400)
    fits = {name: fit_baseline(name, closes, 280, 1, 0) for name in SERVABLE}
    anchors = {"val": slice(279, 339), "test": slice(339, 399)}
    y_val = np.log(closes[280:340] / closes[279:339])[:, None]
    network = Part(LogReturnForecast(np.zeros((60, 1)), np.full((60, 1), 0.01), np.full((60, 1), 5.0)), None)
    settings = {"combine": "auto", "history": 250, "recalibrate": "auto"}
    combination = choose_combination(closes, anchors, y_val, fits, network, settings, 1)
    assert combination is not None and combination.name != "egarch_t"
    assert "egarch_t is not combined: over 250 closes its spread is not positive and finite" in caplog.text
    for fc in combination.forecasts.values():
        assert np.isfinite(fc.scale).all() and (fc.scale > 0).all()
