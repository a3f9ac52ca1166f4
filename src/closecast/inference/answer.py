"""One window's answer: the point forecast, its quantiles and interval, from the predictive distribution
of a likelihood head or, for a point network, the series' conformal residuals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from closecast.distributions.conformal import conformal_quantile
from closecast.distributions.predictive import LogReturnForecast
from closecast.distributions.served import Part, served_quantiles
from closecast.inference.inputs import level_name
from closecast.inference.series import SeriesModel


def row_of(dist: LogReturnForecast | None, i: int) -> LogReturnForecast | None:
    """Row `i` of a batch's predictive distribution, as a batch of one."""
    return None if dist is None else dist.rows(slice(i, i + 1))


def price_quantiles(
    model: SeriesModel,
    window: np.ndarray,
    point: np.ndarray,
    dist: list[Part] | None,
    levels: list[float],
) -> np.ndarray:
    """Prices `(horizon, len(levels))` at each quantile level, for one window of `model`'s series (`dist`:
    the served distribution's parts, None for a point network)."""
    if dist is not None:
        return window[-1] * np.exp(served_quantiles(dist, levels)[0])
    # A point network: the level's side of the conformal interval that has it as a bound.
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
    dist: list[Part] | None = None,
    sent: int | None = None,
) -> dict[str, Any]:
    """The answer for one window of `model`'s series from its row `(horizon,)` of `forecast` and its
    served distribution's parts `dist` (`SeriesModel.served_parts`; None for a point network); `sent`:
    how many checked prices the request sent (a combined baseline reads up to its history of them)."""
    predictions = forecast[:horizon].tolist()
    result: dict[str, Any] = {
        "prediction": predictions[0],
        "predictions": predictions,
        "series": model.name,
        "normalize": model.normalize,
        "point": model.point,
    }
    if dist is not None and (quantiles or interval is not None):
        result["served"] = served_source(model, sent)
    point = np.asarray(predictions)
    if quantiles:
        q = price_quantiles(model, window, point, dist, quantiles)[:horizon]
        result["quantiles"] = {
            level_name(a): [float(v) if math.isfinite(v) else None for v in q[:, j].tolist()]
            for j, a in enumerate(quantiles)
        }
    if interval is not None:
        result["interval"] = interval
        if dist is not None:
            ends = [(1 - interval) / 2, (1 + interval) / 2]
            lower, upper = price_quantiles(model, window, point, dist, ends).T
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
