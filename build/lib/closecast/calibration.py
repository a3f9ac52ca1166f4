"""Calibration on the validation part: how far to trust the network's move (the shrink toward naive) and
how wide its conformal intervals are. Nothing here reads the test part."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from closecast.codec import Codec
from closecast.data import WindowSet
from closecast.metrics import conformal_quantile, mean_gain_z

SHRINK_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


def shrink_gains(codec: Codec, y_hat: torch.Tensor, part: WindowSet) -> np.ndarray:
    """Per-sample gain over naive (naive's absolute error minus the model's, averaged over the horizon)
    for every factor of `SHRINK_GRID`: shape `(len(SHRINK_GRID), samples)`."""
    future = part.future.numpy()
    naive_err = np.abs(future - part.last.numpy()[:, None]).mean(axis=1)
    return np.stack(
        [
            naive_err - np.abs(codec.decode(y_hat, part.last, shrink=s).numpy() - future).mean(axis=1)
            for s in SHRINK_GRID
        ]
    )


def choose_shrink(
    codec: Codec, y_hat: torch.Tensor, part: WindowSet, setting: Any, min_gain_z: float = 0.0
) -> float:
    """`auto`: the factor in [0, 1] with the lowest validation MAE (0 is naive); else the number given.

    With `min_gain_z` > 0 the factor must also earn its keep on data it was not chosen on: it is picked on
    the first half of the validation part (chronologically) and kept only if its gain over naive on the
    second half is at least `min_gain_z` Newey-West standard errors above zero (a one-sided
    Diebold-Mariano test); otherwise the forecast falls back to naive (0). Picking the best of the grid
    and testing it on the same samples would overstate the evidence twice over (the selection, and the
    autocorrelation of daily errors). A model with no real edge then scores exactly naive.
    """
    if setting != "auto":
        value = float(setting)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"calibration.shrink must be 'auto' or in [0, 1], got {setting!r}")
        return value
    gains = shrink_gains(codec, y_hat, part)
    if min_gain_z <= 0:
        mean = gains.mean(axis=1)
        best = int(np.argmax(mean))  # first maximum: the smallest factor among ties
        return float(SHRINK_GRID[best]) if mean[best] > 0 else 0.0
    half = gains.shape[1] // 2
    if half < 2:
        return 0.0
    mean = gains[:, :half].mean(axis=1)
    best = int(np.argmax(mean))
    if mean[best] <= 0:
        return 0.0
    z = mean_gain_z(gains[best, half:], min_lag=codec.horizon - 1)
    return float(SHRINK_GRID[best]) if z >= min_gain_z else 0.0


def log_residuals(pred: np.ndarray, actual: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """Sorted absolute log residuals per horizon step, each divided by its sample's `scale` (the
    conformal calibration set)."""
    residuals = np.abs(np.log(actual / pred))
    if scale is not None:
        residuals = residuals / np.asarray(scale, dtype=np.float64)[:, None]
    return np.sort(residuals, axis=0)


def part_scale(codec: Codec, part: WindowSet) -> np.ndarray:
    """Per-sample residual scale of a part (ones unless `codec.interval_scale` says otherwise)."""
    if part.window_prices is None:
        return np.ones(len(part))
    return codec.residual_scale(part.window_prices.cpu()).numpy()


def interval_bounds(
    codec: Codec, pred: np.ndarray, part: WindowSet, residuals: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper `(n, horizon)` prices of the conformal `level` interval around `pred`."""
    radius = conformal_quantile(residuals, level)[None, :] * part_scale(codec, part)[:, None]
    return pred * np.exp(-radius), pred * np.exp(radius)


def calibrate(codec: Codec, y_val: torch.Tensor, val: WindowSet, calibration: Any) -> np.ndarray:
    """Set `codec.shrink` and `codec.interval_scale` from the `calibration` settings and the network's
    validation outputs `y_val`; return the conformal residuals of the shrunk forecast."""
    min_gain_z = float(calibration.get("min_gain_z", 0.0))
    codec.shrink = choose_shrink(codec, y_val, val, calibration.shrink, min_gain_z)
    codec.interval_scale = str(calibration.get("interval_scale", "none"))
    pred = codec.decode(y_val, val.last).numpy()
    return log_residuals(pred, val.future.numpy(), part_scale(codec, val))
