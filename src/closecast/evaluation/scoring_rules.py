"""Scoring rules of a predictive distribution against what happened: CRPS, log score, pinball loss,
interval coverage and Winkler score, for Gaussian and Student-t forecasts given by location, scale (and
degrees of freedom). All functions broadcast over numpy arrays and return per-forecast values."""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from closecast.distributions.predictive import _standardized

QUANTILE_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)


INTERVAL_LEVELS = (0.5, 0.8, 0.9, 0.95)


def crps_gaussian(y, loc, scale) -> np.ndarray:
    """CRPS of N(loc, scale²) at `y` (closed form), in the units of `y`."""
    z = _standardized(y, loc, scale)
    pdf, cdf = stats.norm.pdf(z), stats.norm.cdf(z)
    return scale * (z * (2 * cdf - 1) + 2 * pdf - 1 / np.sqrt(np.pi))


def crps_student_t(y, loc, scale, df) -> np.ndarray:
    """CRPS of a location-scale Student-t with `df` > 1 degrees of freedom at `y` (closed form)."""
    df = np.asarray(df, dtype=float)
    if np.any(~(df > 1)):
        raise ValueError("Student-t CRPS needs df > 1 (finite mean); got a smaller or NaN df")
    z = _standardized(y, loc, scale)
    pdf, cdf = stats.t.pdf(z, df), stats.t.cdf(z, df)
    # The constant E|X - X'| / 2 of the standard t, through log-beta for numerical range.
    log_const = (
        np.log(2 * np.sqrt(df) / (df - 1)) + special.betaln(0.5, df - 0.5) - 2 * special.betaln(0.5, df / 2)
    )
    return scale * (z * (2 * cdf - 1) + 2 * pdf * (df + z**2) / (df - 1) - np.exp(log_const))


def crps(y, loc, scale, df=None) -> np.ndarray:
    """CRPS of a Gaussian (`df` None) or Student-t forecast."""
    return crps_gaussian(y, loc, scale) if df is None else crps_student_t(y, loc, scale, df)


def pinball(y, q, level: float) -> np.ndarray:
    """Pinball (quantile) loss of the quantile forecast `q` at `level`."""
    diff = np.asarray(y, dtype=float) - q
    return np.maximum(level * diff, (level - 1) * diff)


def covered(y, lower, upper) -> np.ndarray:
    """1.0 where `y` falls in [lower, upper], else 0.0 (average it for the coverage rate)."""
    y = np.asarray(y, dtype=float)
    return ((y >= lower) & (y <= upper)).astype(float)


def winkler(y, lower, upper, coverage: float) -> np.ndarray:
    """Winkler interval score of a central `coverage` interval: its width plus 2/alpha times the miss."""
    alpha = 1 - coverage
    y = np.asarray(y, dtype=float)
    below = np.maximum(lower - y, 0.0)
    above = np.maximum(y - upper, 0.0)
    return (upper - lower) + (2 / alpha) * (below + above)


def skill(score: float, reference: float) -> float:
    """Skill score against a reference (1 − score / reference): above 0 is better than the reference."""
    return 1.0 - score / reference


def negative_log_density(y, loc, scale, df=None) -> np.ndarray:
    """Negative log predictive density at `y` of a Gaussian (`df` None) or Student-t forecast."""
    z = _standardized(y, loc, scale)
    log_pdf = stats.norm.logpdf(z) if df is None else stats.t.logpdf(z, df)
    return np.log(scale) - log_pdf
