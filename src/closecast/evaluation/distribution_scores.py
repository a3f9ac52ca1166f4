"""Distribution scores of one method on one part, all on the log return from the last observed price.

Two kinds: closed-form scores of a location-scale forecast as fitted (`closed_form_scores`: CRPS, NLL,
QLIKE of its variance, and the quantile scores of its own quantiles) and the scores of a served
distribution given by its quantiles on `GRID` (`grid_scores`: CRPS as twice the mean pinball loss over the
grid, `scoringrules.crps_quantile`, and the quantile scores read from the grid). Key names are listed in
docs/FORECAST_QUALITY.md."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scoringrules as sr

from closecast.distributions import skewed_t
from closecast.distributions.predictive import LogReturnForecast
from closecast.evaluation import scoring_rules as scores

QuantileFn = Callable[[float], np.ndarray]

# Quantile levels a served distribution is scored on: every tenth of a percent, which holds every level
# the scores read (the pinball levels, the central intervals' ends and the 1% and 5% VaR) and keeps the
# grid's CRPS within a fraction of a percent of the closed form (docs/FORECAST_QUALITY.md).
GRID = tuple(float(a) for a in np.round(np.arange(1, 1000) / 1000, 3))


def outcome(last: np.ndarray, future: np.ndarray) -> np.ndarray:
    """What happened: log returns `(n, horizon)` from the last observed price."""
    return np.log(np.asarray(future, dtype=float) / np.asarray(last, dtype=float)[:, None])


def quantile_scores(y: np.ndarray, quantile_at: QuantileFn, prefix: str) -> dict[str, float]:
    """Pinball loss per level and coverage / Winkler score per central interval."""
    out = {}
    for level in scores.QUANTILE_LEVELS:
        out[f"{prefix}/pinball_{round(level * 100):02d}"] = float(
            np.mean(scores.pinball(y, quantile_at(level), level))
        )
    for cov in scores.INTERVAL_LEVELS:
        lower, upper = quantile_at((1 - cov) / 2), quantile_at((1 + cov) / 2)
        tag = round(cov * 100)
        out[f"{prefix}/coverage_{tag}"] = float(np.mean(scores.covered(y, lower, upper)))
        out[f"{prefix}/winkler_{tag}"] = float(np.mean(scores.winkler(y, lower, upper, cov)))
    return out


def variance(forecast: LogReturnForecast) -> np.ndarray:
    """Forecast variance `(n, horizon)`: scale² for a Gaussian, scale² ν / (ν − 2) for a Student-t, scale²
    times the standardized variance for a skewed Student-t (NaN where ν <= 2: no finite variance)."""
    var = np.asarray(forecast.scale, dtype=float) ** 2
    if forecast.skew is not None:
        return var * skewed_t.variance(forecast.df, forecast.skew)
    if forecast.df is None:
        return var
    nu = np.asarray(forecast.df, dtype=float)
    return np.where(nu > 2, var * nu / np.where(nu > 2, nu - 2, 1.0), np.nan)


def qlike(y: np.ndarray, var: np.ndarray) -> np.ndarray:
    """QLIKE loss of a variance forecast against the squared outcome: log var + y² / var (lower is
    better; robust to noise in the squared return as a proxy of the true variance)."""
    return np.log(var) + np.asarray(y, dtype=float) ** 2 / var


def closed_form_scores(y: np.ndarray, forecast: LogReturnForecast, prefix: str) -> dict[str, float]:
    """CRPS, NLL, QLIKE and the quantile scores of a forecast as fitted (no recalibration)."""
    params = forecast.parameters()
    out = {
        f"{prefix}/crps": float(np.mean(scores.crps(y, *params))),
        f"{prefix}/nll": float(np.mean(scores.negative_log_density(y, *params))),
        f"{prefix}/qlike": float(np.mean(qlike(y, variance(forecast)))),
    }
    out.update(quantile_scores(y, forecast.quantile, prefix))
    return out


def grid_crps(y: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-sample CRPS `(n,)` (mean over the horizon) of quantiles `q` `(n, horizon, len(GRID))`."""
    return sr.crps_quantile(y, q, np.asarray(GRID), backend="numpy").mean(axis=1)


def at_level(q: np.ndarray, level: float) -> np.ndarray:
    """The `(n, horizon)` quantiles at one level of `GRID`."""
    return q[..., GRID.index(round(level, 3))]


def grid_scores(y: np.ndarray, q: np.ndarray, prefix: str) -> tuple[dict[str, float], np.ndarray]:
    """Scores of a served distribution given by its quantiles `q` `(n, horizon, len(GRID))`, and its
    per-sample CRPS."""
    crps = grid_crps(y, q)
    out = {f"{prefix}/crps": float(crps.mean())}
    out.update(quantile_scores(y, lambda a: at_level(q, a), prefix))
    return out, crps


def grid_pit(y: np.ndarray, q: np.ndarray) -> np.ndarray:
    """PIT values `(n, horizon)` of outcomes under the distribution with quantiles `q` on `GRID`: the level
    at which `y` falls, interpolated linearly between grid quantiles (0 or 1 beyond the grid's ends)."""
    levels = np.concatenate([[0.0], GRID, [1.0]])
    below = (q <= y[..., None]).sum(axis=-1)  # how many grid quantiles lie at or below y
    lo = np.take_along_axis(q, np.clip(below - 1, 0, len(GRID) - 1)[..., None], -1)[..., 0]
    hi = np.take_along_axis(q, np.clip(below, 0, len(GRID) - 1)[..., None], -1)[..., 0]
    frac = np.where(hi > lo, (y - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
    inner = (below > 0) & (below < len(GRID))
    step = levels[np.minimum(below + 1, len(GRID))] - levels[below]
    return np.where(inner, levels[below] + frac * step, np.where(below == 0, 0.0, 1.0))
