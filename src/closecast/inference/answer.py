"""One window's answer: the point forecast, its quantiles and interval, from the predictive distribution
of a likelihood head or, for a point network, the series' conformal residuals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from closecast.distributions.conformal import conformal_quantile
from closecast.inference.inputs import level_name
from closecast.inference.series import SeriesModel


def conformal_quantiles(
    model: SeriesModel, window: np.ndarray, point: np.ndarray, levels: list[float]
) -> np.ndarray:
    """Prices `(horizon, len(levels))` at each quantile level of a point network's forecast `point` for
    one window of `model`'s series: the level's side of the conformal interval that has it as a bound."""
    scale = float(model.calibration.residual_scale(torch.from_numpy(window)))
    out = np.empty((len(point), len(levels)))
    for j, level in enumerate(levels):
        if level == 0.5:
            out[:, j] = point
            continue
        radius = conformal_quantile(model.residuals, abs(2 * level - 1)) * scale
        with np.errstate(over="ignore"):
            out[:, j] = point * np.exp(np.sign(level - 0.5) * radius[: len(point)])
    return out


def spread_levels(interval: float | None, quantiles: list[float] | None) -> list[float]:
    """The levels a distribution's answer reads: the `quantiles`, then the `interval`'s two ends."""
    ends = [] if interval is None else [(1 - interval) / 2, (1 + interval) / 2]
    return [*(quantiles or []), *ends]


def served_source(model: SeriesModel, sent: int | None) -> dict[str, Any]:
    """What the quantiles and interval of an answer are from (`Calibration.describe`); for a baseline
    part, the closes it read against the closes it was scored with, and in words what a shortfall means."""
    out = model.calibration.describe()
    if model.spec is None or sent is None:
        return out
    scored = model.spec.history + 1
    read = min(sent, scored)
    out |= {"closes_read": read, "closes_scored": scored}
    if read < scored:
        out["note"] = (
            f"{read} closes sent, {scored} scored: the {out['baseline']} part starts from its training-time "
            f"level, so this distribution differs from the one scored; send {scored} closes for that one"
        )
    return out


def answer(
    model: SeriesModel,
    forecast: np.ndarray,
    window: np.ndarray,
    horizon: int,
    interval: float | None = None,
    quantiles: list[float] | None = None,
    spread: np.ndarray | None = None,
    sent: int | None = None,
) -> dict[str, Any]:
    """The answer for one window of `model`'s series from its row `(horizon,)` of `forecast` and, for a
    likelihood head, the prices `spread` `(horizon, L)` of its served distribution at `spread_levels`
    (None for a point network, whose spread is conformal); `sent`: how many checked prices the request
    sent (a combined baseline reads up to its history of them)."""
    predictions = forecast[:horizon].tolist()
    result: dict[str, Any] = {
        "prediction": predictions[0],
        "predictions": predictions,
        "series": model.name,
        "normalize": model.normalize,
        "point": model.point,
    }
    if spread is not None and (quantiles or interval is not None):
        result["served"] = served_source(model, sent)
    point = np.asarray(predictions)
    if quantiles:
        if spread is not None:
            q = spread[:horizon, : len(quantiles)]
        else:
            q = conformal_quantiles(model, window, point, quantiles)[:horizon]
        result["quantiles"] = {
            level_name(a): [float(v) if math.isfinite(v) else None for v in q[:, j].tolist()]
            for j, a in enumerate(quantiles)
        }
    if interval is not None:
        result["interval"] = interval
        if spread is not None:
            lower, upper = spread[:, -2], spread[:, -1]
        else:
            # 1 unless the artifact scales its residuals by the window's volatility.
            scale = float(model.calibration.residual_scale(torch.from_numpy(window)))
            radius = conformal_quantile(model.residuals, interval)[:horizon] * scale
            with np.errstate(over="ignore", invalid="ignore"):
                lower, upper = point * np.exp(-radius), point * np.exp(radius)
        lower, upper = lower[:horizon], upper[:horizon]
        # Too few calibration residuals for this level (or a bound past the largest float) give an
        # unbounded side: upper is None, lower is 0.
        result["lower"] = [float(v) if math.isfinite(v) else 0.0 for v in lower.tolist()]
        result["upper"] = [float(v) if math.isfinite(v) else None for v in upper.tolist()]
    return result
