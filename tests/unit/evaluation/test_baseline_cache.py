"""Fitted baselines are cached by data and split: the second run reads them, a changed price refits."""

from __future__ import annotations

import numpy as np

from closecast.evaluation import baseline_cache as C
from tests.helpers.configs import sample_closes


def test_a_second_fit_reads_the_cache_and_a_changed_input_fits_again(tmp_path, monkeypatch):
    prices = np.asarray(sample_closes(600), dtype=float)
    settings = {"refit_every": 100, "cache_dir": str(tmp_path)}
    first = C.fitted_baselines(prices, 400, 1, settings)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    calls = []
    real = C.fit_baselines
    monkeypatch.setattr(C, "fit_baselines", lambda *a: calls.append(a) or real(*a))
    again = C.fitted_baselines(prices, 400, 1, settings)
    assert not calls and set(again) == set(first)
    for name, fit in first.items():
        np.testing.assert_array_equal(again[name].sigma, fit.sigma)
        assert again[name].params == fit.params
        assert (fit.df is None) == (again[name].df is None)
    edited = prices.copy()
    edited[550] *= 1.1
    C.fitted_baselines(edited, 400, 1, settings)
    C.fitted_baselines(prices, 420, 1, settings)
    assert len(calls) == 2 and len(list(tmp_path.glob("*.npz"))) == 3
    # An unreadable entry is fitted again, not an error.
    for path in tmp_path.glob("*.npz"):
        path.write_bytes(b"garbage")
    C.fitted_baselines(prices, 400, 1, settings)
    assert len(calls) == 3
