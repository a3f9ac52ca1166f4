"""The test figures show the served distribution honestly: a fan of bands against the realized closes,
the spread against the move, PIT and coverage; backtest bars on an axis from 0."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from scipy.stats import norm

from closecast.evaluation.distribution_scores import GRID
from closecast.evaluation.plots import backtest_figure, forecast_figures

PNG = b"\x89PNG\r\n\x1a\n"


def test_a_run_writes_the_fan_spread_calibration_and_residual_figures(tiny_run):
    run = tiny_run[0] / "run"
    for name in ("forecast", "spread", "calibration", "residuals"):
        assert (run / f"{name}.png").read_bytes()[:8] == PNG, name


def synthetic(n: int = 60, seed: int = 0) -> dict:
    """A test part of `n` days: closes, naive point forecasts, Gaussian log-return quantiles on GRID."""
    rng = np.random.default_rng(seed)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n + 1)))
    last, actual = closes[:-1], closes[1:, None]
    q = np.broadcast_to(norm.ppf(GRID) * 0.01, (n, 1, len(GRID))).copy()
    dates = list(pd.bdate_range("2024-01-01", periods=n))
    return {"dates": dates, "actual": actual, "pred": last[:, None], "last": last, "quantiles": q}


def test_the_fan_draws_bands_of_the_served_distribution_on_the_days_they_forecast():
    d = synthetic()
    lower, upper = d["pred"] * 0.98, d["pred"] * 1.02
    figures = forecast_figures(
        d["dates"], d["actual"], d["pred"], lower, upper, 0.9, "X", d["last"], d["quantiles"], "naive"
    )
    assert set(figures) == {"forecast", "spread", "residuals", "calibration"}
    (ax,) = figures["forecast"].axes
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert [b.get_label() for b in bands] == ["90% band", "50% band"]
    assert [line.get_label() for line in ax.lines] == ["naive", "close"]  # what the point forecast is
    close = ax.lines[1]
    # The realized close of a sample is drawn on the next day, the day it was forecast for.
    assert pd.Timestamp(close.get_xdata()[0]) == d["dates"][1]
    spread_ax = figures["spread"].axes[0]
    assert spread_ax.collections and spread_ax.get_xlabel().startswith("predicted 90% width")
    pit_ax, coverage_ax = figures["calibration"].axes
    assert len(pit_ax.patches) == 20  # the PIT histogram's bars
    assert coverage_ax.lines[1].get_label() == "realized"
    for fig in figures.values():
        plt.close(fig)


def test_a_point_network_gets_its_conformal_band_and_no_pit():
    d = synthetic()
    lower, upper = d["pred"] * 0.98, d["pred"] * 1.02
    figures = forecast_figures(d["dates"], d["actual"], d["pred"], lower, upper, 0.9, "X", d["last"])
    assert "calibration" not in figures
    (ax,) = figures["forecast"].axes
    assert [c.get_label() for c in ax.collections if isinstance(c, PolyCollection)] == ["90% interval"]
    for fig in figures.values():
        plt.close(fig)


def test_backtest_bars_start_at_zero_with_naive_at_one():
    dates = pd.bdate_range("2024-01-01", periods=5)
    fc = SimpleNamespace(dates=dates, actual=np.ones((5, 1)), model=np.ones((5, 1)), lower=np.ones((5, 1)),
                         upper=np.ones((5, 1)))  # fmt: skip
    rows = [(f, m, v) for f in ("1", "2") for m, v in (("model", 0.998), ("drift", 1.003), ("naive", 1.0))]
    table = pd.DataFrame(rows + [("all", "model", 0.999)], columns=["fold", "method", "mase"])
    fig = backtest_figure([fc, fc], table, "X")
    bottom = fig.axes[1]
    assert bottom.get_ylim()[0] == 0 and bottom.get_ylim()[1] >= 1.1
    assert any(list(line.get_ydata()) == [1.0, 1.0] for line in bottom.lines)  # naive's line
    plt.close(fig)
