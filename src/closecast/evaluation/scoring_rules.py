"""Scoring rules of a predictive distribution against what happened: CRPS, log score, pinball loss,
interval coverage and Winkler score, for Gaussian and Student-t forecasts given by location, scale (and
degrees of freedom). The scores come from `scoringrules`; this module fixes the conventions (the outcome
standardised by `loc` and `scale`, negative log density, the interval at `1 - coverage`). All functions
broadcast over numpy arrays and return per-forecast values."""

from __future__ import annotations

import numpy as np
import scoringrules as sr

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


def crps(y, loc, scale, df=None) -> np.ndarray:
    """CRPS of a Gaussian (`df` None) or Student-t forecast."""
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


def negative_log_density(y, loc, scale, df=None) -> np.ndarray:
    """Negative log predictive density at `y` of a Gaussian (`df` None) or Student-t forecast."""
    # The library's log score is already the negative log density; standardising adds log(scale). It takes
    # the log of the density, so an outcome so far out in a Gaussian tail that the density underflows
    # scores inf.
    z = _standardized(y, loc, scale)
    log_score = (
        sr.logs_normal(z, 0.0, 1.0, backend=_BACKEND)
        if df is None
        else sr.logs_t(z, np.asarray(df, dtype=float), 0.0, 1.0, backend=_BACKEND)
    )
    return np.log(scale) + log_score
