"""Figures of a forecast on its test part: the served distribution's fan over the last months against the
realized closes, the predicted spread against the realized move, the PIT histogram and interval coverage,
the residual histogram; and the backtest's folds.

Rendered with matplotlib's Agg backend (no display needed), saved as PNG in the run dir and, when a
TensorBoard writer is given, added to TensorBoard as figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from closecast.evaluation.distribution_scores import at_level, grid_pit  # noqa: E402

matplotlib.use("Agg")  # headless: training runs on servers and in CI

FAN_DAYS = 125  # about the last six months of test
BANDS = ((0.05, 0.95, 0.25), (0.25, 0.75, 0.45))  # central 90% and 50%, with their opacity
COVERAGE_LEVELS = (0.5, 0.8, 0.9, 0.95)


def fan_figure(
    dates: list,
    actual: np.ndarray,
    pred: np.ndarray,
    bands: list[tuple[str, np.ndarray, np.ndarray, float]],
    title: str,
    point: str = "point forecast",
) -> Figure:
    """The last `FAN_DAYS` one-step forecasts, each drawn on the day it forecasts: its predictive bands
    (`bands`: label, lower, upper, opacity, in prices), the point forecast (labelled `point`) and the
    realized close."""
    keep = slice(-FAN_DAYS, None)
    # Each sample is dated by its last observed day; its next close is the next sample's day (test
    # samples are consecutive days), and the last one's the next business day.
    origins = pd.DatetimeIndex(dates)
    x = origins[1:].append(origins[-1:] + pd.offsets.BDay(1))[keep]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for label, lower, upper, alpha in bands:
        lo, hi = np.asarray(lower, dtype=float)[keep], np.asarray(upper, dtype=float)[keep]
        finite = np.isfinite(hi) & np.isfinite(lo)
        ax.fill_between(
            x, np.where(finite, lo, np.nan), np.where(finite, hi, np.nan), color="tab:blue", alpha=alpha,
            linewidth=0, label=label, step="mid",
        )  # fmt: skip
    ax.plot(x, np.asarray(pred)[keep], color="tab:red", linewidth=0.9, label=point)
    closes = np.asarray(actual)[keep]
    ax.plot(x, closes, color="black", linewidth=1.1, marker=".", markersize=3, label="close")
    ax.set_title(f"{title}: next-day forecast, last {len(x)} test days")
    ax.set_ylabel("price")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def spread_figure(spread: np.ndarray, move: np.ndarray, title: str) -> Figure:
    """Predicted spread (the central 90% width, in log return) against the realized absolute log move,
    with the realized mean per fifth of the predicted spread: a spread that means something rises."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(spread, move, s=6, color="tab:gray", alpha=0.6, label="test days")
    finite = np.isfinite(spread)
    if finite.sum() >= 5:
        edges = np.quantile(spread[finite], np.linspace(0, 1, 6))
        which = np.clip(np.searchsorted(edges, spread[finite], side="right") - 1, 0, 4)
        centres = [spread[finite][which == b].mean() for b in range(5) if (which == b).any()]
        means = [move[finite][which == b].mean() for b in range(5) if (which == b).any()]
        ax.plot(centres, means, color="tab:blue", marker="o", label="mean |move| per fifth of spread")
    ax.set_xlabel("predicted 90% width (log return)")
    ax.set_ylabel("realized |log return|")
    ax.set_title(f"{title}: spread vs move", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def calibration_figure(pit: np.ndarray, title: str) -> Figure:
    """Left: the histogram of PIT values (flat when calibrated). Right: the share of outcomes inside each
    central interval against its nominal level (on the diagonal when calibrated)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.hist(pit, bins=20, range=(0, 1), color="tab:blue", alpha=0.7)
    left.axhline(len(pit) / 20, color="black", linewidth=1.0, linestyle="--", label="uniform")
    left.set_xlabel("PIT of the realized close")
    left.set_ylabel("count")
    left.legend(loc="upper right", fontsize=8)
    levels = np.asarray(COVERAGE_LEVELS)
    covered = [float(np.mean(np.abs(pit - 0.5) <= c / 2)) for c in levels]
    right.plot([0, 1], [0, 1], color="black", linewidth=0.8, linestyle="--", label="nominal")
    right.plot(levels, covered, color="tab:blue", marker="o", label="realized")
    right.set_xlim(0.4, 1.0)
    right.set_ylim(0.4, 1.0)
    right.set_xlabel("central interval level")
    right.set_ylabel("share of test closes inside")
    right.legend(loc="upper left", fontsize=8)
    fig.suptitle(f"{title}: calibration of the served distribution", fontsize=10)
    fig.tight_layout()
    return fig


def residual_figure(
    actual: np.ndarray, pred: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float, title: str
) -> Figure:
    """Histogram of one-step log residuals `log(actual / forecast)`, with the share inside the interval."""
    actual = np.asarray(actual, dtype=np.float64)
    residuals = np.log(actual / np.asarray(pred, dtype=np.float64))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(residuals, bins=50, color="tab:gray")
    ax.axvline(0.0, color="black", linewidth=0.8)
    inside = float(np.mean((actual >= lower) & (actual <= upper))) if residuals.size else float("nan")
    ax.set_title(f"{title}: {inside:.1%} inside the {level:.0%} interval", fontsize=10)
    ax.set_xlabel("log(actual / forecast)")
    ax.set_ylabel("count")
    fig.tight_layout()
    return fig


def forecast_figures(
    dates: list,
    actual: np.ndarray,
    pred: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    level: float,
    title: str,
    last: np.ndarray,
    quantiles: np.ndarray | None = None,
    point: str = "point forecast",
) -> dict[str, Figure]:
    """The figures of the first horizon step by name: `forecast` (the fan), `spread`, `residuals` and,
    with the served distribution's log-return quantiles `quantiles` `(n, horizon, len(GRID))`,
    `calibration`; a point network's fan is its conformal `level` band `[lower, upper]`; `point` labels
    the point forecast (what it is: naive, the network's, shrunk)."""
    actual, pred, lower, upper = (np.asarray(a, dtype=np.float64)[:, 0] for a in (actual, pred, lower, upper))
    last = np.asarray(last, dtype=np.float64)
    if quantiles is None:
        bands = [(f"{level:.0%} interval", lower, upper, 0.3)]
        with np.errstate(divide="ignore", invalid="ignore"):  # an unbounded side has no width
            spread = np.log(upper / lower)
    else:
        bands = [
            (f"{hi - lo:.0%} band", last * np.exp(at_level(quantiles, lo)[:, 0]),
             last * np.exp(at_level(quantiles, hi)[:, 0]), alpha)
            for lo, hi, alpha in BANDS
        ]  # fmt: skip
        spread = (at_level(quantiles, 0.95) - at_level(quantiles, 0.05))[:, 0]
    move = np.abs(np.log(actual / last))
    figures = {
        "forecast": fan_figure(dates, actual, pred, bands, title, point),
        "spread": spread_figure(spread, move, title),
        "residuals": residual_figure(actual, pred, lower, upper, level, title),
    }
    if quantiles is not None:
        pit = grid_pit(np.log(actual / last)[:, None], quantiles[:, :1])[:, 0]
        figures["calibration"] = calibration_figure(pit, title)
    return figures


def save_figures(
    figures: dict[str, Figure], output_dir: Path, tensorboard: Any = None, step: int = 0
) -> list[Path]:
    """Write `figures` (e.g. `forecast_figures`) as `<name>.png` into `output_dir`; add them to
    TensorBoard under `test/<name>`; close them."""
    paths = []
    for name, fig in figures.items():
        path = Path(output_dir) / f"{name}.png"
        fig.savefig(path, dpi=100)
        paths.append(path)
        if tensorboard is not None and hasattr(tensorboard, "add_figure"):
            tensorboard.add_figure(f"test/{name}", fig, global_step=step, close=False)
        plt.close(fig)
    return paths


def backtest_figure(forecasts: list, table: Any, title: str) -> Figure:
    """Top: each fold's one-step forecast and interval against the actual price, folds marked.
    Bottom: MASE per fold of the model and drift on an axis from 0, naive's 1 drawn across."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), gridspec_kw={"height_ratios": [3, 2]})
    for k, fc in enumerate(forecasts):
        x = np.asarray(fc.dates)
        top.plot(x, fc.actual[:, 0], color="black", linewidth=0.8, label="actual" if k == 0 else None)
        top.plot(
            x, fc.model[:, 0], color="tab:blue", linewidth=0.8, label="model (1 step)" if k == 0 else None
        )
        top.fill_between(
            x,
            fc.lower[:, 0],
            fc.upper[:, 0],
            color="tab:blue",
            alpha=0.2,
            label="interval" if k == 0 else None,
        )
        top.axvline(x[0], color="tab:gray", linestyle=":", linewidth=0.8)
    top.set_title(f"{title}: test blocks")
    top.set_ylabel("price")
    top.legend(loc="upper left")
    folds = table[table.fold != "all"]
    names = list(dict.fromkeys(folds.fold))
    pos = np.arange(len(names))
    for offset, method, color in ((-0.2, "model", "tab:blue"), (0.2, "drift", "tab:orange")):
        values = [float(folds[(folds.fold == n) & (folds.method == method)].mase.iloc[0]) for n in names]
        bars = bottom.bar(pos + offset, values, width=0.4, color=color, label=method)
        bottom.bar_label(bars, fmt="%.3f", fontsize=7)  # the differences from 1 are often this small
    bottom.axhline(1.0, color="black", linewidth=1.0, label="naive (1)")
    bottom.set_xticks(pos, [f"fold {n}" for n in names])
    bottom.set_ylabel("MASE")
    # From 0: a bar's height is its MASE, so a difference of a few thousandths looks as small as it is.
    bottom.set_ylim(0, max(1.2, float(folds.mase.max()) * 1.1))
    bottom.legend(loc="lower right")
    fig.tight_layout()
    return fig
