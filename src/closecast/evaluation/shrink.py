"""The shrink guard: how far to trust the network's move toward naive, chosen on validation and tested
with the Diebold-Mariano statistic (`closecast.evaluation.significance`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from closecast.data.codec import Codec
from closecast.data.windows import WindowSet
from closecast.evaluation.significance import mean_gain_z

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
    """`auto`: the factor in [0, 1] with the lowest validation MAE (0 is naive); else the number given
    (`shrink_choice`, without its reason)."""
    return shrink_choice(codec, y_hat, part, setting, min_gain_z)[0]


def shrink_choice(
    codec: Codec, y_hat: torch.Tensor, part: WindowSet, setting: Any, min_gain_z: float = 0.0
) -> tuple[float, str]:
    """The shrink and, in words, why it was chosen (the point forecast's `why` in an answer).

    `auto`: the factor in [0, 1] with the lowest validation MAE (0 is naive); else the number given.
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
        return value, f"calibration.shrink was set to {value:g} (not chosen on validation)"
    gains = shrink_gains(codec, y_hat, part)
    if min_gain_z <= 0:
        mean = gains.mean(axis=1)
        best = int(np.argmax(mean))  # first maximum: the smallest factor among ties
        if mean[best] <= 0:
            return 0.0, "no shrink factor had a lower validation MAE than the naive forecast"
        return float(SHRINK_GRID[best]), f"shrink {SHRINK_GRID[best]:g} had the lowest validation MAE"
    half = gains.shape[1] // 2
    if half < 2:
        return 0.0, f"the validation part ({gains.shape[1]} samples) is too short to test a gain over naive"
    mean = gains[:, :half].mean(axis=1)
    best = int(np.argmax(mean))
    if mean[best] <= 0:
        return 0.0, "no shrink factor beat the naive forecast's MAE on the first half of validation"
    z = mean_gain_z(gains[best, half:], min_lag=codec.horizon - 1)
    tested = (
        f"shrink {SHRINK_GRID[best]:g}, the best on the first half of validation, had a gain over naive "
        f"on the second half of {z:+.2f} Newey-West standard errors"
    )
    if z >= min_gain_z:
        return float(SHRINK_GRID[best]), f"{tested} (at least {min_gain_z:g} needed)"
    return 0.0, f"{tested}, below the {min_gain_z:g} needed to trust it"
