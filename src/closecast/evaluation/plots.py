"""Figures of a forecast: prediction vs actual with its interval band, and the residual histogram.

Rendered with matplotlib's Agg backend (no display needed), saved as PNG in the run dir and, when a
TensorBoard writer is given, added to TensorBoard as figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

matplotlib.use("Agg")  # headless: training runs on servers and in CI


def forecast_figure(
    dates: list,
    actual: np.ndarray,
    pred: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    level: float,
    title: str,
) -> Figure:
    """One-step-ahead forecast against the actual price, with the conformal `[lower, upper]` band."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    x = np.asarray(dates)
    ax.plot(x, actual, color="black", linewidth=1.0, label="actual")
    ax.plot(x, pred, color="tab:blue", linewidth=1.0, label="forecast (1 step)")
    finite = np.isfinite(upper)
    ax.fill_between(
        x, np.where(finite, lower, np.nan), np.where(finite, upper, np.nan), color="tab:blue", alpha=0.2,
        label=f"{level:.0%} interval",
    )  # fmt: skip
    ax.set_title(title)
    ax.set_ylabel("price")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
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


def save_forecast_plots(
    output_dir: Path,
    dates: list,
    actual: np.ndarray,
    pred: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    level: float,
    title: str,
    tensorboard: Any = None,
    step: int = 0,
) -> list[Path]:
    """Write `forecast.png` and `residuals.png` for the first horizon step; add both to TensorBoard."""
    first = [np.asarray(a)[:, 0] for a in (actual, pred, lower, upper)]
    figures = {
        "forecast": forecast_figure(dates, *first, level, title),
        "residuals": residual_figure(*first, level, title),
    }
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
    Bottom: MASE per fold of the model and drift (naive is 1 by definition)."""
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
        bottom.bar(pos + offset, values, width=0.4, color=color, label=method)
    bottom.axhline(1.0, color="black", linewidth=1.0, label="naive")
    bottom.set_xticks(pos, [f"fold {n}" for n in names])
    bottom.set_ylabel("MASE")
    lo = min(0.95, float(folds.mase.min()) - 0.01)
    hi = max(1.05, float(folds.mase.max()) + 0.01)
    bottom.set_ylim(lo, hi)
    bottom.legend(loc="upper right")
    fig.tight_layout()
    return fig
