"""Is one forecast really better than another? The Diebold-Mariano statistic of two loss series with
Newey-West (HAC) errors, and the model confidence set (`arch.bootstrap.MCS`) of several."""

from __future__ import annotations

import math

import numpy as np
from arch.bootstrap import MCS
from arch.covariance.kernel import Bartlett
from scipy import stats

# The model confidence set keeps, with 90% confidence, every method not significantly worse than the best.
MCS_SIZE = 0.10
MCS_REPS = 1000


def mean_gain_z(gains: np.ndarray, min_lag: int = 0) -> float:
    """Mean of a series of forecast-loss differences over its Newey-West (HAC) standard error.

    The Diebold-Mariano statistic: errors of daily forecasts come in volatile and calm stretches, so
    their differences are autocorrelated and the i.i.d. standard error would overstate the evidence.
    Bartlett weights (`arch`), lag `max(min_lag, floor(4 (n / 100) ** (2 / 9)))` capped at n - 1.
    Returns -inf for fewer than 2 values; a constant series has no spread, so any positive mean is
    overwhelming evidence (inf).
    """
    g = np.asarray(gains, dtype=np.float64)
    n = g.size
    if n < 2:
        return -math.inf
    mean = float(g.mean())
    lag = min(n - 1, max(min_lag, int(4 * (n / 100) ** (2 / 9))))
    # A fixed bandwidth: the lag rule above, not arch's data-driven choice.
    var = float(Bartlett(g, bandwidth=lag, center=True).cov.long_run[0, 0])
    if var <= 0:
        return math.inf if mean > 0 else -math.inf if mean < 0 else 0.0
    return mean / math.sqrt(var / n)


def diebold_mariano(losses: np.ndarray, reference: np.ndarray, min_lag: int = 0) -> tuple[float, float]:
    """DM statistic and two-sided p-value of `losses - reference` per sample: t < 0 means `losses` are the
    smaller (better), and |t| > 1.96 is significant at 5%."""
    t = mean_gain_z(np.asarray(losses, dtype=float) - np.asarray(reference, dtype=float), min_lag)
    p = 2.0 * float(stats.norm.sf(abs(t))) if math.isfinite(t) else 0.0
    return t, p


def confidence_set(losses: dict[str, np.ndarray], seed: int = 0) -> dict[str, float]:
    """Each method's MCS p-value (its loss series `(n,)`, all over the same samples): the method is in
    the 10% model confidence set when its p-value is above `MCS_SIZE`. Stationary bootstrap, seeded."""
    # Methods with identical losses (a served baseline and that baseline) are one method to the test.
    distinct: dict[bytes, str] = {}
    same_as = {}
    for name, loss in losses.items():
        key = np.ascontiguousarray(loss, dtype=float).tobytes()
        same_as[name] = distinct.setdefault(key, name)
    names = list(distinct.values())
    if len(names) == 1:
        return dict.fromkeys(losses, 1.0)
    matrix = np.column_stack([np.asarray(losses[n], dtype=float) for n in names])
    mcs = MCS(matrix, size=MCS_SIZE, reps=MCS_REPS, method="R", bootstrap="stationary", seed=seed)
    mcs.compute()
    pvalues = {}
    for index, p in mcs.pvalues.iloc[:, 0].items():
        # Models the test eliminates at the same step share one row (its index a list of them).
        for i in np.atleast_1d(np.asarray(index)).ravel():
            pvalues[names[int(i)]] = float(p)
    return {name: pvalues[same_as[name]] for name in losses}
