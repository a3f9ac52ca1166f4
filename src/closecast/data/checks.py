"""The checks of a cleaned series that every row can pass and the series still train badly: a gap of more
than `data.max_gap_days` trading days (a return across it is no daily return), a one-day move beyond
`data.max_daily_move` (most often an unadjusted split, which it names), a date given twice with different
prices (`data.duplicate_dates`), and a test part too small for its scores to mean anything (a warning).
Each refusal is a one-line `DataError` with the key that accepts it."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from closecast.errors import DataError

log = logging.getLogger(__name__)


DUPLICATE_DATES = ("error", "last")  # a date given twice with different prices: refuse | keep the later row


# New shares per old share of the usual splits: an unadjusted one shows as a one-day fall by this factor.
SPLIT_RATIOS = (1.5, 2, 3, 4, 5, 7, 8, 10, 15, 20)


# Below this many test samples a score's sampling error swamps the differences it is read for: the standard
# error of a 90% interval's coverage is sqrt(0.9 * 0.1 / n), 0.03 at n = 100.
MIN_TEST_SAMPLES = 100


def refuse_conflicting_duplicates(series: pd.Series, name: str) -> None:
    """Refuse dates given twice or more with different prices (which one is right is not ours to guess)."""
    repeated = series[series.index.duplicated(keep=False)]
    prices = repeated.groupby(level=0).unique()
    conflicting = prices[prices.map(len) > 1]
    if len(conflicting):
        date, values = conflicting.index[0], conflicting.iloc[0]
        raise DataError(
            f"{name}: {len(conflicting)} date(s) appear more than once with different prices, e.g. "
            f"{date.date()}: {', '.join(f'{v:g}' for v in values)}; correct the file, or keep each date's "
            "last row with data.duplicate_dates=last"
        )


def _move_cause(before: float, after: float, missing: int) -> str:
    """What most likely makes a price jump by a day's move this large (`missing` weekdays before it)."""
    if missing > 5:
        return f"it spans {missing} weekdays without a price, no single day"
    if after > before:
        return "a reverse split or a wrong price is the likely cause"
    ratio = before / after
    split = min(SPLIT_RATIOS, key=lambda r: abs(ratio / r - 1))
    if abs(ratio / split - 1) < 0.15:
        return f"most likely an unadjusted {split:g}-for-1 split"
    return "an unadjusted split or a wrong price is the likely cause"


def check_series(
    series: pd.Series, name: str, max_gap_days: int | None, max_daily_move: float | None
) -> None:
    """Refuse a gap of more than `max_gap_days` weekdays without a price and a one-day price ratio (up or
    down) beyond `max_daily_move`; None turns a check off."""
    if len(series) < 2:
        return
    days = series.index.to_numpy().astype("datetime64[D]")
    if max_gap_days is not None:
        missing = np.busday_count(days[:-1] + 1, days[1:])  # weekdays strictly between two rows
        long = missing > int(max_gap_days)
        if long.any():
            i = int(np.argmax(missing))
            raise DataError(
                f"{name}: {int(long.sum())} gap(s) of more than data.max_gap_days={max_gap_days} trading "
                f"days without a price, the longest {missing[i]} weekdays, from {days[i]} to {days[i + 1]}: "
                "a return across it is no daily return; choose dates without it (data.start, data.end), or "
                f"accept it with data.max_gap_days={missing[i]}"
            )
    if max_daily_move is not None:
        values = series.to_numpy(dtype=np.float64)
        moves = np.exp(np.abs(np.diff(np.log(values))))
        beyond = moves > float(max_daily_move)
        if beyond.any():
            i = int(np.argmax(moves))
            cause = _move_cause(values[i], values[i + 1], int(np.busday_count(days[i] + 1, days[i + 1])))
            raise DataError(
                f"{name}: {int(beyond.sum())} one-day move(s) beyond data.max_daily_move={max_daily_move}x, "
                f"the largest {moves[i]:.3g}x from {values[i]:.6g} on {days[i]} to {values[i + 1]:.6g} on "
                f"{days[i + 1]}: {cause}; use split-adjusted prices (Yahoo's "
                f"Adj Close: data.feature='Adj Close'), or accept it with "
                f"data.max_daily_move={math.ceil(10 * moves[i]) / 10}"
            )


def warn_if_tiny(name: str, test_samples: int) -> None:
    """Warn when a series' test part is too small for its scores to tell models apart."""
    if test_samples < MIN_TEST_SAMPLES:
        log.warning(
            "%s: only %d test samples (fewer than %d): its test scores vary too much from sample to "
            "sample to compare models; use a longer date range or a larger test part (data.train_frac, "
            "data.val_frac)",
            name,
            test_samples,
            MIN_TEST_SAMPLES,
        )
