"""Scoring rules of a predictive distribution against what happened: CRPS, log score, pinball loss,
interval coverage and Winkler score, for Gaussian, Student-t and skewed Student-t forecasts given by
location, scale (and degrees of freedom, and skew). The scores come from `scoringrules`, the skewed
Student-t's from its closed form built on the Student-t's (`crps_skewed_t`); this module fixes the
conventions (the outcome standardised by `loc` and `scale`, negative log density, the interval at
`1 - coverage`). All functions broadcast over numpy arrays and return per-forecast values."""

from __future__ import annotations

import numpy as np
import scoringrules as sr

from closecast.distributions import skewed_t
from closecast.distributions.predictive import _standardized

QUANTILE_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)


INTERVAL_LEVELS = (0.5, 0.8, 0.9, 0.95)

# Plain numpy arithmetic, the same whether or not numba happens to be installed beside the library.
_BACKEND = "numpy"


def crps_gaussian(y, loc, scale) -> np.ndarray:
    """CRPS of N(loc, scale²) at `y` (closed form), in the units of `y`."""
    # CRPS is scale-equivariant: score the standardised outcome and rescale.
    z = _standardized(y, loc, scale)
    return np.asarray(scale, dtype=float) * sr.crps_normal(z, 0.0, 1.0, backend=_BACKEND)


def crps_student_t(y, loc, scale, df) -> np.ndarray:
    """CRPS of a location-scale Student-t with `df` > 1 degrees of freedom at `y` (closed form)."""
    df = np.asarray(df, dtype=float)
    if np.any(~(df > 1)):
        raise ValueError("Student-t CRPS needs df > 1 (finite mean); got a smaller or NaN df")
    z = _standardized(y, loc, scale)
    return np.asarray(scale, dtype=float) * sr.crps_t(z, df, 0.0, 1.0, backend=_BACKEND)


def crps_skewed_t(y, loc, scale, df, skew) -> np.ndarray:
    """CRPS of a location-scale skewed Student-t (`closecast.distributions.skewed_t`) with `df` > 1 at `y`
    (closed form): E|Z - z| - E|Z - Z'| / 2 of the standardized outcome z, rescaled.

    Z is a mixture of two half Student-t's, -|T| / gamma (weight 1 / (1 + gamma²)) and gamma |T|, so
    E|Z - Z'| follows from E|T - T'| (the Student-t's own, read from its CRPS at 0) and E|T|; E|Z - z|
    from the CDF and the partial mean E[Z 1{Z <= z}]."""
    df, skew = np.asarray(df, dtype=float), np.asarray(skew, dtype=float)
    if np.any(~(df > 1)):
        raise ValueError("skewed Student-t CRPS needs df > 1 (finite mean); got a smaller or NaN df")
    if np.any(~(skew > 0)):
        raise ValueError("skewed Student-t CRPS needs skew > 0; got a value <= 0 or NaN")
    z = _standardized(y, loc, scale)
    to_outcome = (
        skewed_t.mean(df, skew)
        - z
        + 2 * z * skewed_t.cdf(z, df, skew)
        - 2 * skewed_t.partial_mean(z, df, skew)
    )
    abs_t = skewed_t.abs_mean(df)
    spread_t = 2 * (abs_t - sr.crps_t(np.zeros_like(df), df, 0.0, 1.0, backend=_BACKEND))  # E|T - T'|
    halves = 2 * spread_t - 2 * abs_t  # E||T| - |T'||
    below = skewed_t.mass_below_mode(skew)
    above = 1 - below
    spread = (
        below**2 * halves / skew + above**2 * halves * skew + 2 * below * above * (skew + 1 / skew) * abs_t
    )
    return np.asarray(scale, dtype=float) * (to_outcome - spread / 2)


def crps(y, loc, scale, df=None, skew=None) -> np.ndarray:
    """CRPS of a Gaussian (`df` None), Student-t or skewed Student-t (`skew` given) forecast."""
    if skew is not None:
        return crps_skewed_t(y, loc, scale, df, skew)
    return crps_gaussian(y, loc, scale) if df is None else crps_student_t(y, loc, scale, df)


def pinball(y, q, level: float) -> np.ndarray:
    """Pinball (quantile) loss of the quantile forecast `q` at `level`."""
    return sr.quantile_score(np.asarray(y, dtype=float), np.asarray(q, dtype=float), level, backend=_BACKEND)


def covered(y, lower, upper) -> np.ndarray:
    """1.0 where `y` falls in [lower, upper], else 0.0 (average it for the coverage rate)."""
    y = np.asarray(y, dtype=float)
    return ((y >= lower) & (y <= upper)).astype(float)


def winkler(y, lower, upper, coverage: float) -> np.ndarray:
    """Winkler interval score of a central `coverage` interval: its width plus 2/alpha times the miss."""
    y, lower, upper = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (y, lower, upper)))
    # The library squeezes length-1 axes away; keep the shape the inputs broadcast to.
    return np.reshape(sr.interval_score(y, lower, upper, 1 - coverage, backend=_BACKEND), y.shape)


def skill(score: float, reference: float) -> float:
    """Skill score against a reference (1 − score / reference): above 0 is better than the reference."""
    return 1.0 - score / reference


def negative_log_density(y, loc, scale, df=None, skew=None) -> np.ndarray:
    """Negative log predictive density at `y` of a Gaussian (`df` None), Student-t or skewed Student-t
    (`skew` given) forecast."""
    # The library's log score is already the negative log density; standardising adds log(scale). It takes
    # the log of the density, so an outcome so far out in a Gaussian tail that the density underflows
    # scores inf.
    z = _standardized(y, loc, scale)
    if skew is not None:
        return np.log(scale) - skewed_t.logpdf(z, df, skew)
    log_score = (
        sr.logs_normal(z, 0.0, 1.0, backend=_BACKEND)
        if df is None
        else sr.logs_t(z, np.asarray(df, dtype=float), 0.0, 1.0, backend=_BACKEND)
    )
    return np.log(scale) + log_score
