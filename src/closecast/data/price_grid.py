"""A check of the cleaned closes: prices stored on a grid that is coarse beside the price itself.

A vendor that rounds every price to 0.001 (the S&P 500 stocks shipped with `skfolio`) stores a stock
trading at 0.30 with a one-tick move of 0.3%: its daily returns then take a few values only, not the
continuum the network and the baselines assume. The series is kept; the warning names it and the days."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


# Grids finer than 10**-GRID_DECIMALS are treated as no grid at all (adjusted closes carry many decimals).
GRID_DECIMALS = 6


# A day is coarse when one tick is at least this share of its price (0.001 on a price below 1): a
# one-tick move is then a twentieth of a typical daily return or more.
COARSE_TICK = 1e-3


# Warn when at least this share of a series' days is coarse.
COARSE_SHARE = 0.05


def price_tick(prices: np.ndarray) -> float | None:
    """The coarsest grid 10**-k (k = 0..GRID_DECIMALS) every price lies on, or None if none does."""
    for k in range(GRID_DECIMALS + 1):
        scaled = prices * 10.0**k
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 + 1e-9 * np.abs(scaled)):
            return 10.0**-k
    return None


def warn_coarse_grid(series: pd.Series, name: str) -> bool:
    """Warn, naming `name` and the period, when the closes sit on a grid coarse beside the price on
    `COARSE_SHARE` of the days or more; whether it warned."""
    prices = series.to_numpy(dtype=np.float64)
    tick = price_tick(prices) if len(prices) else None
    if tick is None:
        return False
    coarse = tick / prices >= COARSE_TICK
    if coarse.mean() < COARSE_SHARE:
        return False
    days = series.index[coarse]
    log.warning(
        "%s: prices are rounded to %g, which is at least %.2f%% of the price on %d of %d days "
        "(%s..%s): the daily returns there take a few values only; start later (data.start) "
        "or use a source with finer prices",
        name,
        tick,
        100 * COARSE_TICK,
        int(coarse.sum()),
        len(prices),
        days[0].date(),
        days[-1].date(),
    )
    return True
