"""The chronological split of a series into train, validation and test parts, in prices: one split for a
training run (one calendar shared by the series of a universe), expanding-window folds for the
walk-forward backtest."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from closecast.errors import DataError


@dataclass
class Split:
    """Sizes of the chronological split, in prices."""

    n_train: int
    n_val: int
    n_test: int


def split_sizes(n: int, train_frac: float, val_frac: float) -> Split:
    """Chronological split of `n` prices by fractions; the test part gets the rest."""
    if not (0 < train_frac < 1 and 0 < val_frac < 1 and train_frac + val_frac < 1):
        raise DataError(
            f"split fractions train={train_frac}, val={val_frac} must be positive and leave room for test"
        )
    n_train = int(math.floor(n * train_frac))
    n_val = int(math.floor(n * val_frac))
    return Split(n_train, n_val, n - n_train - n_val)


def sample_counts(split: Split, window: int, horizon: int) -> tuple[int, int, int]:
    """Samples in the train, validation and test parts of `split` for this window and horizon."""
    # A sample is anchored at its last observed price t and targets t+1..t+horizon; it belongs to the
    # part that holds all of its targets (samples straddling a boundary are dropped).
    train = split.n_train - window - horizon + 1
    val = split.n_val - horizon + 1
    test = split.n_test - horizon + 1
    return train, val, test


def min_length(window: int, horizon: int, train_frac: float, val_frac: float) -> int:
    """Fewest prices that give every part at least one sample."""
    n = window + horizon
    while min(sample_counts(split_sizes(n, train_frac, val_frac), window, horizon)) < 1:
        n += 1
    return n


def walk_forward_splits(
    n: int, folds: int, test_frac: float, train_frac: float, val_frac: float
) -> list[Split]:
    """Expanding-window folds over `n` prices: the last `test_frac` of the series is cut into `folds`
    consecutive test blocks; fold k sees only the prices before its block, split into train and
    validation in the `train_frac : val_frac` proportion. Each split covers a prefix of the series.
    """
    if folds < 1:
        raise DataError(f"backtest.folds must be at least 1, got {folds}")
    if not 0 < test_frac < 1:
        raise DataError(f"backtest.test_frac must be in (0, 1), got {test_frac}")
    if not (train_frac > 0 and val_frac > 0):
        raise DataError(f"split fractions train={train_frac}, val={val_frac} must be positive")
    first_test = n - int(math.floor(n * test_frac))
    edges = [first_test + round(k * (n - first_test) / folds) for k in range(folds + 1)]
    splits = []
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        n_val = int(math.floor(start * val_frac / (train_frac + val_frac)))
        splits.append(Split(start - n_val, n_val, stop - start))
    return splits


@dataclass
class Calendar:
    """The shared split of a universe: the first validation date and the first test date."""

    val_start: pd.Timestamp
    test_start: pd.Timestamp


def calendar_split(
    dates: dict[str, pd.DatetimeIndex], train_frac: float, val_frac: float
) -> tuple[Calendar, dict[str, Split]]:
    """One chronological split shared by every series: the fractions cut the union of their dates, and
    each series' part holds its own dates in that part's range, so no series trains on a day another
    validates or tests on. One series gets `split_sizes` of its own length."""
    union = pd.DatetimeIndex(np.unique(np.concatenate([idx.to_numpy() for idx in dates.values()])))
    sizes = split_sizes(len(union), train_frac, val_frac)

    def first_date(position: int) -> pd.Timestamp:
        # An empty part starts after the last date, so it holds no series' dates.
        return union[position] if position < len(union) else union[-1] + pd.Timedelta(days=1)

    calendar = Calendar(first_date(sizes.n_train), first_date(sizes.n_train + sizes.n_val))
    splits = {}
    for name, idx in dates.items():
        n_train = int(idx.searchsorted(calendar.val_start, side="left"))
        n_before_test = int(idx.searchsorted(calendar.test_start, side="left"))
        splits[name] = Split(n_train, n_before_test - n_train, len(idx) - n_before_test)
    return calendar, splits
