"""Whether a forecast's quantiles are recalibrated on validation: the same rule for the network and for
every baseline, so the comparison stays like for like.

`always` recalibrates with the sorted PIT values of the whole validation part. `auto` (the default)
makes recalibration earn its keep first: PIT values from the first half of validation recalibrate the
second half, and recalibration is kept (refitted on all of validation) only if it lowers the second
half's CRPS; otherwise the forecast is served as fitted. `never` serves every forecast as fitted."""

from __future__ import annotations

import numpy as np

from closecast.distributions.predictive import LogReturnForecast, log_return_quantiles, sorted_pit
from closecast.evaluation.distribution_scores import GRID, grid_crps

RECALIBRATE = ("auto", "always", "never")


def rule_of(settings) -> str:
    """`calibration.recalibrate` from the calibration settings (`auto` unless set)."""
    return str(settings.get("recalibrate", "auto"))


def choose_pit(forecast: LogReturnForecast, y: np.ndarray, setting: str = "auto") -> np.ndarray | None:
    """The sorted validation PIT values `(n, horizon)` that recalibrate `forecast`'s quantiles, or None to
    serve it as fitted, under `setting` (one of `RECALIBRATE`); `forecast` and `y` are validation's."""
    if setting not in RECALIBRATE:
        raise ValueError(f"calibration.recalibrate={setting!r} is not one of {RECALIBRATE}")
    if setting == "never":
        return None
    if setting == "auto":
        half = len(y) // 2
        if half < 2:
            return None
        first, second = slice(0, half), slice(half, None)
        pit = sorted_pit(forecast.rows(first), y[first])
        later = forecast.rows(second)
        fitted = grid_crps(y[second], log_return_quantiles(later, None, GRID)).mean()
        recalibrated = grid_crps(y[second], log_return_quantiles(later, pit, GRID)).mean()
        if not recalibrated < fitted:
            return None
    return sorted_pit(forecast, y)
