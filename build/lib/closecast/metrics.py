"""Forecast scores in price units, for the model and the baselines it must beat.

MAPE and sMAPE are percentages. MASE here is the model's MAE divided by the naive forecast's MAE on the
same targets ("tomorrow = today"), so below 1 beats naive and the naive forecast scores exactly 1.
"""

from __future__ import annotations

import math

import numpy as np

POINT_METRICS = ("mae", "rmse", "mape", "smape")


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


def conformal_quantile(sorted_abs_residuals: np.ndarray, level: float) -> np.ndarray:
    """Split-conformal radius per horizon step from calibration residuals sorted along axis 0.

    With n calibration residuals the radius is the ceil((n + 1) * level)-th smallest, which gives
    coverage of at least `level` on exchangeable data; where that rank exceeds n the radius is infinite.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"interval level must be strictly between 0 and 1, got {level}")
    residuals = np.asarray(sorted_abs_residuals, dtype=np.float64)
    if residuals.ndim == 1:
        residuals = residuals[:, None]
    n = residuals.shape[0]
    rank = math.ceil((n + 1) * level)
    if n == 0 or rank > n:
        return np.full(residuals.shape[1], np.inf)
    return residuals[rank - 1]


def interval_coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Fraction of `actual` values inside `[lower, upper]`."""
    actual = np.asarray(actual, dtype=np.float64)
    return float(np.mean((actual >= lower) & (actual <= upper)))


def mean_gain_z(gains: np.ndarray, min_lag: int = 0) -> float:
    """Mean of a series of forecast-loss differences over its Newey-West (HAC) standard error.

    The Diebold-Mariano statistic: errors of daily forecasts come in volatile and calm stretches, so
    their differences are autocorrelated and the i.i.d. standard error would overstate the evidence.
    Bartlett weights, lag `max(min_lag, floor(4 (n / 100) ** (2 / 9)))`. Returns -inf for fewer than 2
    values; a constant series has no spread, so any positive mean is overwhelming evidence (inf).
    """
    g = np.asarray(gains, dtype=np.float64)
    n = g.size
    if n < 2:
        return -math.inf
    mean = float(g.mean())
    d = g - mean
    lag = min(n - 1, max(min_lag, int(4 * (n / 100) ** (2 / 9))))
    var = float(d @ d) / n
    for k in range(1, lag + 1):
        var += 2 * (1 - k / (lag + 1)) * float(d[k:] @ d[:-k]) / n
    if var <= 0:
        return math.inf if mean > 0 else -math.inf if mean < 0 else 0.0
    return mean / math.sqrt(var / n)
