"""Forecast scores in price units, for the model and the baselines it must beat.

MAPE and sMAPE are percentages. MASE here is the model's MAE divided by the naive forecast's MAE on the
same targets ("tomorrow = today"), so below 1 beats naive and the naive forecast scores exactly 1."""

from __future__ import annotations

import math

import numpy as np


def point_metrics(pred: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, MAPE (%) and sMAPE (%) of `pred` against `actual` (same shape, prices > 0)."""
    pred = np.asarray(pred, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if pred.shape != actual.shape:
        raise ValueError(f"prediction shape {pred.shape} does not match actual shape {actual.shape}")
    if pred.size == 0:
        raise ValueError("cannot score an empty set of forecasts")
    err = pred - actual
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(100.0 * np.mean(np.abs(err) / np.abs(actual))),
        "smape": float(200.0 * np.mean(np.abs(err) / (np.abs(actual) + np.abs(pred)))),
    }


def _with_mase(scores: dict[str, float], naive_mae: float) -> dict[str, float]:
    scores = dict(scores)
    scores["mase"] = scores["mae"] / naive_mae if naive_mae > 0 else math.nan
    return scores


def score_forecasts(
    methods: dict[str, np.ndarray], actual: np.ndarray, last: np.ndarray
) -> dict[str, dict[str, float]]:
    """Score each method's `(n, horizon)` forecasts, plus `naive`, overall and per horizon step.

    Returns `{method: {"mae": …, …, "mase": …, "h1/mae": …, …}}`; `naive` is always included.
    """
    actual = np.asarray(actual, dtype=np.float64)
    if actual.ndim == 1:
        actual = actual[:, None]
    naive = np.repeat(np.asarray(last, dtype=np.float64)[:, None], actual.shape[1], axis=1)
    all_methods = {"naive": naive, **{k: np.asarray(v, dtype=np.float64) for k, v in methods.items()}}
    naive_overall = point_metrics(naive, actual)["mae"]
    naive_steps = [point_metrics(naive[:, h], actual[:, h])["mae"] for h in range(actual.shape[1])]
    report: dict[str, dict[str, float]] = {}
    for name, pred in all_methods.items():
        pred = pred.reshape(actual.shape)
        scores = _with_mase(point_metrics(pred, actual), naive_overall)
        for h in range(actual.shape[1]):
            step = _with_mase(point_metrics(pred[:, h], actual[:, h]), naive_steps[h])
            scores.update({f"h{h + 1}/{k}": v for k, v in step.items()})
        report[name] = scores
    return report


def interval_coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Fraction of `actual` values inside `[lower, upper]`."""
    actual = np.asarray(actual, dtype=np.float64)
    return float(np.mean((actual >= lower) & (actual <= upper)))
