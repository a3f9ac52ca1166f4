"""Split-conformal intervals of a point forecast: sorted absolute log residuals on validation, the radius
at a level, and the interval bounds in prices (scaled by the input window's volatility when asked)."""

from __future__ import annotations

import math

import numpy as np

from closecast.data.windows import WindowSet
from closecast.distributions.calibration import Calibration, residual_scale


def conformal_quantile(sorted_abs_residuals: np.ndarray, level: float) -> np.ndarray:
    """Split-conformal radius per horizon step from calibration residuals sorted along axis 0.

    With n calibration residuals the radius is the ceil((n + 1) * level)-th smallest, which gives
    coverage of at least `level` on exchangeable data; where that rank exceeds n the radius is infinite
    (always at level 1, which a quantile level within 1e-16 of 0 or 1 rounds to).
    """
    if not 0.0 < level <= 1.0:
        raise ValueError(f"interval level must be in (0, 1], got {level}")
    residuals = np.asarray(sorted_abs_residuals, dtype=np.float64)
    if residuals.ndim == 1:
        residuals = residuals[:, None]
    n = residuals.shape[0]
    rank = math.ceil((n + 1) * level)
    if n == 0 or rank > n:
        return np.full(residuals.shape[1], np.inf)
    return residuals[rank - 1]


def log_residuals(pred: np.ndarray, actual: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
    """Sorted absolute log residuals per horizon step, each divided by its sample's `scale` (the
    conformal calibration set)."""
    residuals = np.abs(np.log(actual / pred))
    if scale is not None:
        residuals = residuals / np.asarray(scale, dtype=np.float64)[:, None]
    return np.sort(residuals, axis=0)


def part_scale(interval_scale: str, part: WindowSet) -> np.ndarray:
    """Per-sample residual scale `(n,)` of a part under an `interval_scale` mode (ones for `none`)."""
    if part.window_prices is None:
        return np.ones(len(part))
    return residual_scale(part.window_prices.cpu(), interval_scale).numpy()


def interval_bounds(
    calibration: Calibration, pred: np.ndarray, part: WindowSet, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper `(n, horizon)` prices of the conformal `level` interval around `pred`, from the
    calibration's residuals."""
    scale = part_scale(calibration.interval_scale, part)
    radius = conformal_quantile(calibration.residuals.numpy(), level)[None, :] * scale[:, None]
    return pred * np.exp(-radius), pred * np.exp(radius)
