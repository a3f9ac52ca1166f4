"""The chronological split of a series into train, validation and test parts, in prices: one split for a
training run, expanding-window folds for the walk-forward backtest."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
