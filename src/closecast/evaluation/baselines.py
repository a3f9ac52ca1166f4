"""Volatility baselines for the predictive distribution of the next closes, all centred on the naive
forecast (tomorrow = today, i.e. a log return of 0 from the last observed price):

- `constant`: the standard deviation of the training log returns, the same every day;
- `ewma`: RiskMetrics exponential smoothing of squared returns (λ = 0.94);
- `garch`: GARCH(1,1) with a zero mean, fitted by maximum likelihood on the training part only and then
  run through validation and test with those parameters fixed.

Each returns `sigma` of shape `(n_prices, horizon)`: `sigma[t, k]` is the forecast standard deviation of
the log return from price `t` to price `t + k + 1`, made with prices up to `t` only (row 0 has no return
yet and is NaN). Multi-step spreads add the per-step variances, which assumes uncorrelated returns:
GARCH's per-step variances come from its analytic forecast, EWMA's and constant's are flat (√h scaling)."""

from __future__ import annotations

import numpy as np
from arch.univariate import GARCH, ZeroMean
from arch.univariate.volatility import EWMAVariance, VolatilityProcess

BASELINES = ("constant", "ewma", "garch")


EWMA_LAMBDA = 0.94


# arch's optimizer is tuned for returns of order 1 (percent), not 0.01; forecasts are scaled back.
PERCENT = 100.0


def log_returns(prices: np.ndarray) -> np.ndarray:
    """Daily log returns of a 1-D array of positive prices (one fewer than the prices)."""
    prices = np.asarray(prices, dtype=float)
    if prices.ndim != 1 or prices.size < 3 or np.any(~(prices > 0)):
        raise ValueError(
            f"volatility baselines need a 1-D series of at least 3 positive prices, got {prices}"
        )
    return np.diff(np.log(prices))


def _check_train(prices: np.ndarray, n_train: int) -> np.ndarray:
    returns = log_returns(prices)
    if not 3 <= n_train <= len(prices):
        raise ValueError(
            f"n_train={n_train} must count at least 3 and at most all {len(prices)} prices; "
            "pass the size of the training part of the chronological split"
        )
    return returns


def _from_step_variances(step_var: np.ndarray) -> np.ndarray:
    # step_var[i, k]: variance of return i + k + 1 seen from return i (known at price i + 1).
    sigma = np.sqrt(np.cumsum(step_var, axis=1))
    return np.vstack([np.full((1, sigma.shape[1]), np.nan), sigma])


def constant_sigma(prices: np.ndarray, n_train: int, horizon: int = 1) -> np.ndarray:
    """Training standard deviation of log returns, scaled by √(steps ahead)."""
    returns = _check_train(prices, n_train)
    var = returns[: n_train - 1].var(ddof=1)
    return _from_step_variances(np.full((len(returns), horizon), var))


def _filtered_sigma(
    prices: np.ndarray, n_train: int, horizon: int, volatility: VolatilityProcess
) -> np.ndarray:
    returns = _check_train(prices, n_train)
    model = ZeroMean(returns * PERCENT, volatility=volatility, rescale=False)
    # `last_obs` limits the likelihood (and the recursion's starting value) to the training returns;
    # the forecast then runs the recursion over the whole series with those parameters fixed, and each
    # row only reads returns up to its own origin.
    fitted = model.fit(last_obs=n_train - 1, disp="off", show_warning=False)
    fixed = model.fix(fitted.params, last_obs=n_train - 1)
    forecast = fixed.forecast(horizon=horizon, start=0, reindex=False, align="origin")
    return _from_step_variances(np.asarray(forecast.variance, dtype=float)) / PERCENT


def ewma_sigma(prices: np.ndarray, n_train: int, horizon: int = 1, lam: float = EWMA_LAMBDA) -> np.ndarray:
    """RiskMetrics EWMA: σ²(t+1) = λ σ²(t) + (1 − λ) r(t)², started from the early training returns."""
    return _filtered_sigma(prices, n_train, horizon, EWMAVariance(lam))


def garch_sigma(prices: np.ndarray, n_train: int, horizon: int = 1) -> np.ndarray:
    """GARCH(1,1) fitted on the training returns, filtered through the rest with parameters fixed."""
    return _filtered_sigma(prices, n_train, horizon, GARCH(p=1, q=1))


def baseline_sigma(name: str, prices: np.ndarray, n_train: int, horizon: int = 1) -> np.ndarray:
    """`sigma` of the baseline called `name` (one of `BASELINES`)."""
    makers = {"constant": constant_sigma, "ewma": ewma_sigma, "garch": garch_sigma}
    if name not in makers:
        raise ValueError(f"volatility baseline {name!r} is not one of {BASELINES}")
    return makers[name](prices, n_train, horizon)
