"""Does a predictive distribution say what happens as often as it says? Value-at-Risk backtests at a
level (Kupiec's proportion of failures, Christoffersen's independence of the failures and their
conditional coverage) and a uniformity test of the PIT values."""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import xlogy

VAR_LEVELS = (0.01, 0.05)


def _log_bernoulli(failures: float, trials: float, p: float) -> float:
    return float(xlogy(failures, p) + xlogy(trials - failures, 1.0 - p))


def var_backtest(hits: np.ndarray, level: float) -> dict[str, float]:
    """Failure rate and p-values (`kupiec`, `independence`, `conditional`) of a VaR forecast at `level`
    from its hit sequence (1 where the outcome fell below the forecast `level`-quantile), in time order.
    Small p-values reject: too many or too few failures, failures in clusters, or either."""
    hits = np.asarray(hits, dtype=bool).ravel()
    n, x = hits.size, int(hits.sum())
    if n < 2:
        raise ValueError(f"a VaR backtest needs at least 2 days, got {n}")
    pof = -2.0 * (_log_bernoulli(x, n, level) - _log_bernoulli(x, n, x / n))
    prev, nxt = hits[:-1], hits[1:]
    n01, n11 = int((~prev & nxt).sum()), int((prev & nxt).sum())
    n0, n1 = int((~prev).sum()), int(prev.sum())
    pi = (n01 + n11) / (n - 1)
    restricted = _log_bernoulli(n01 + n11, n - 1, pi)
    free = _log_bernoulli(n01, n0, n01 / n0 if n0 else 0.0) + _log_bernoulli(n11, n1, n11 / n1 if n1 else 0.0)
    ind = max(0.0, -2.0 * (restricted - free))
    return {
        "rate": x / n,
        "kupiec": float(stats.chi2.sf(pof, 1)),
        "independence": float(stats.chi2.sf(ind, 1)),
        "conditional": float(stats.chi2.sf(pof + ind, 2)),
    }


def pit_uniformity(pit: np.ndarray) -> float:
    """p-value of the Kolmogorov-Smirnov test that PIT values are uniform on [0, 1] (a calibrated
    forecast's are); small values reject."""
    pit = np.asarray(pit, dtype=float).ravel()
    return float(stats.kstest(pit, "uniform").pvalue)
