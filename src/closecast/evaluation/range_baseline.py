"""A range-based volatility baseline, what a range model is held against: HAR(1, 5, 22) on the log
Parkinson variance of each day's High and Low (Corsi's heterogeneous autoregression: tomorrow's log
variance regressed by OLS on today's, the mean of the last 5 days' and of the last 22 days'), fitted on
the training part only, with Student-t innovations.

The regression forecasts the log of the day's range variance, not the close-to-close return's variance:
exp(E log v) is below E v, and the range misses the overnight move. One scale fitted on the training part
takes both out: it makes the training returns, divided by their forecast spread, of unit variance. The
Student-t degrees of freedom are then fitted on those standardized training returns by maximum
likelihood. Parkinson rather than Garman-Klass: it reads only the High and Low that a range model already
needs, not the day's Open. Every forecast of a price's row reads the High, Low and close of that day and
earlier only; a horizon of several steps keeps the one-step variance per step (√h scaling)."""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

# Days each HAR regressor averages the log variance over: the day, the week and the month.
LAGS = (1, 5, 22)

# Parkinson: E[ln(High/Low)²] = 4 ln 2 σ² for a driftless Brownian motion within the day.
PARKINSON = 1.0 / (4.0 * np.log(2.0))

# The degrees of freedom searched: above 2 (a finite variance) up to a nearly Gaussian tail.
DF_BOUNDS = (2.05, 200.0)


def parkinson_variance(high_low: np.ndarray) -> np.ndarray:
    """Each day's Parkinson variance `(n,)` from its High and Low `(n, 2)`."""
    high_low = np.asarray(high_low, dtype=float)
    if high_low.ndim != 2 or high_low.shape[1] != 2 or not np.all(high_low > 0):
        raise ValueError(
            f"a range baseline needs positive High and Low of shape (n, 2), got {high_low.shape}"
        )
    if np.any(high_low[:, 0] < high_low[:, 1]):
        raise ValueError("a range baseline needs High >= Low on every day; clean the series' High/Low first")
    return PARKINSON * np.log(high_low[:, 0] / high_low[:, 1]) ** 2


def har_regressors(log_var: np.ndarray) -> np.ndarray:
    """The HAR design `(n, 4)`: a constant and, per day t, the mean log variance over days t-l+1..t for
    each of `LAGS` (over the days there are, for the first days of a series)."""
    total = np.concatenate([[0.0], np.cumsum(log_var)])
    day = np.arange(1, len(log_var) + 1)
    means = [(total[day] - total[np.maximum(day - lag, 0)]) / np.minimum(day, lag) for lag in LAGS]
    return np.column_stack([np.ones(len(log_var)), *means])


def student_t_df(z: np.ndarray) -> float:
    """Maximum-likelihood degrees of freedom of a unit-variance Student-t for standardized returns `z`."""

    def nll(nu: float) -> float:
        return -float(stats.t.logpdf(z, nu, scale=np.sqrt((nu - 2.0) / nu)).sum())

    return float(optimize.minimize_scalar(nll, bounds=DF_BOUNDS, method="bounded").x)


def fit_har(pk: np.ndarray, returns: np.ndarray, end: int) -> tuple[np.ndarray, dict[str, float]]:
    """One-step variances `(n_days,)` of every day's next log return, and the parameters, from the HAR
    fitted on days 0..end-1 only: its OLS on the pairs (day t, day t+1) within them, its scale and
    degrees of freedom on their returns. `pk`: Parkinson variances per day; `returns[t]`: the log return
    from day t to day t+1."""
    first = LAGS[-1] - 1  # the first day whose regressors cover the longest lag
    if end - 1 - first < 2 * len(LAGS):
        raise ValueError(
            f"a HAR range baseline needs more than {first + 2 * len(LAGS) + 1} training days, got {end}; "
            "use a longer date range or a larger data.train_frac"
        )
    positive = pk[:end][pk[:end] > 0]
    if positive.size == 0:
        raise ValueError("a HAR range baseline needs training days whose High is above their Low")
    floor = float(positive.min())  # a day with High == Low has no log variance: the smallest seen
    x = har_regressors(np.log(np.maximum(pk, floor)))
    rows = np.arange(first, end - 1)
    beta, *_ = np.linalg.lstsq(x[rows], np.log(np.maximum(pk[rows + 1], floor)), rcond=None)
    level = np.exp(x @ beta)
    scale = float(np.mean(returns[rows] ** 2 / level[rows]))
    var = scale * level
    nu = student_t_df(returns[rows] / np.sqrt(var[rows]))
    params = {f"beta_{name}": float(b) for name, b in zip(("const", *map(str, LAGS)), beta, strict=True)}
    return var, params | {"scale": scale, "nu": nu, "floor": floor}


def har_range(
    returns: np.ndarray, high_low: np.ndarray, n_train: int, horizon: int, refit_every: int = 0
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Sigma `(n_prices, horizon)` and degrees of freedom `(n_prices,)` of the HAR range baseline fitted
    on the first `n_train` prices (their High/Low `high_low`, `(n_prices, 2)`), with its parameters; with
    `refit_every` > 0 refitted on all earlier days before every `refit_every`-th price after training."""
    n = len(returns) + 1
    if len(high_low) != n:
        raise ValueError(f"High/Low cover {len(high_low)} days, the prices {n}; pass one row per price")
    pk = parkinson_variance(high_low)
    var, params = fit_har(pk, returns, n_train)
    df = np.full(n, params["nu"])
    if refit_every > 0:
        for origin in range(n_train - 1 + refit_every, n - 1, refit_every):
            # Forecasts from price `origin` on come from a fit on days 0..origin.
            refit, got = fit_har(pk, returns, origin + 1)
            var[origin:], df[origin:] = refit[origin:], got["nu"]
    sigma = np.sqrt(var[:, None] * np.arange(1, horizon + 1))
    return sigma, df, params
