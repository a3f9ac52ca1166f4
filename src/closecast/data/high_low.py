"""The day's High and Low beside the closes: read, cleaned and checked for the range inputs.

Only a model with a range input (`codec.RANGE_FEATURES`) reads them. They go through the same integrity
step as the closes (`closecast.data.cleaning`), then each day is checked: High >= Low > 0, and the day's
unadjusted close (the `Close` column, when the frame has one) lies between them. Days that fail are
counted and dropped with their close; more than `data.max_dropped_frac` of them stop the run with a
`DataError` that names the series, what was found and the way out."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import torch

from closecast.data.cleaning import clean_series
from closecast.data.codec import needs_high_low
from closecast.errors import DataError

log = logging.getLogger(__name__)


HIGH_LOW = (("High", "Low"), ("high", "low"))


CLOSE_COLUMNS = ("Close", "close")


# A close may sit a little outside its day's High/Low when a vendor rounds them differently; an
# adjusted close, or a High/Low from another day, lands far outside.
CLOSE_TOLERANCE = 0.005


WAY_OUT = (
    "use a source that has them (data.source=sample or yahoo, or a CSV with High and Low columns), or "
    "data.features without range inputs, e.g. [return, abs_return, ma_dev]"
)


def high_low_columns(frame: pd.DataFrame, name: str, way_out: str) -> tuple[str, str]:
    """The frame's High and Low column names, or a `DataError` naming `name` and `way_out`."""
    for high, low in HIGH_LOW:
        if high in frame.columns and low in frame.columns:
            return high, low
    raise DataError(
        f"{name}: a range input needs the day's High and Low, but the columns are {list(frame.columns)}; "
        f"{way_out}"
    )


def check_day_ranges(high: pd.Series, low: pd.Series, close: pd.Series | None) -> dict[str, pd.Series]:
    """Masks of the days that fail each rule (same index as `high`), for counting and dropping."""
    rules = {"High below Low": high < low}
    if close is not None:
        outside = (close > high * (1 + CLOSE_TOLERANCE)) | (close < low * (1 - CLOSE_TOLERANCE))
        rules["close outside its day's High/Low"] = ~rules["High below Low"] & outside
    return rules


def clean_high_low(
    frame: pd.DataFrame,
    series: pd.Series,
    name: str = "series",
    date_format: str | None = None,
    max_dropped_frac: float = 0.01,
    way_out: str = WAY_OUT,
) -> tuple[pd.Series, pd.DataFrame]:
    """`series` (cleaned closes) less the days whose High/Low fail a rule, and a frame of `high` and
    `low` on the same dates (float64)."""
    high_col, low_col = high_low_columns(frame, name, way_out)
    clean = {
        col: clean_series(frame, col, None, None, f"{name} column {col!r}", date_format, max_dropped_frac)
        for col in (high_col, low_col)
    }
    high, low = (clean[c].reindex(series.index) for c in (high_col, low_col))
    close_col = next((c for c in CLOSE_COLUMNS if c in frame.columns), None)
    close = None
    if close_col is not None:
        close = (
            series
            if close_col == series.name
            else clean_series(frame, close_col, None, None, name, date_format, 1.0).reindex(series.index)
        )
    rules = {"no High/Low that day": high.isna() | low.isna()}
    rules.update(check_day_ranges(high, low, close))  # a day without a readable close is not checked
    removed = {rule: int(mask.sum()) for rule, mask in rules.items() if mask.any()}
    bad = np.logical_or.reduce([mask.to_numpy() for mask in rules.values()])
    dropped, n = int(bad.sum()), len(series)
    if dropped:
        first = series.index[bad][0].date()
        counts = ", ".join(f"{count} {rule}" for rule, count in removed.items())
        if dropped > max_dropped_frac * n:
            raise DataError(
                f"{name}: {dropped} of {n} days have no usable High/Low ({counts}; first {first}), more "
                f"than data.max_dropped_frac={max_dropped_frac}; correct the file's {high_col}/{low_col} "
                f"columns, allow it with data.max_dropped_frac={math.ceil(1000 * dropped / n) / 1000}, "
                f"or {way_out}"
            )
        log.warning("range inputs of %s: removed %d of %d days: %s", name, dropped, n, counts)
    keep = ~bad
    kept = series[keep]
    return kept, pd.DataFrame({"high": high[keep], "low": low[keep]}, index=kept.index)


def with_high_low(
    frame: pd.DataFrame,
    series: pd.Series,
    features: list[str],
    name: str,
    date_format: str | None = None,
    max_dropped_frac: float = 0.01,
) -> tuple[pd.Series, pd.DataFrame | None]:
    """`clean_high_low` where `features` need it; else `series` unchanged and no High/Low."""
    if not needs_high_low(features):
        return series, None
    return clean_high_low(frame, series, name, date_format, max_dropped_frac)


def high_low_tensor(
    high_low: pd.DataFrame | None, index: pd.DatetimeIndex, features: list[str], name: str
) -> torch.Tensor | None:
    """High and Low `(2, len(index))` (float64) on the dates `index` where `features` need them."""
    if not needs_high_low(features):
        return None
    if high_low is None:
        raise DataError(
            f"series {name!r}: data.features={features} need each day's High and Low, and none were "
            "read; load the series with its datamodule's load_series()"
        )
    return torch.tensor(high_low.loc[index].to_numpy(np.float64).T.copy())
