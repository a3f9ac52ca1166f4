"""Scores of a predictive distribution against what happened: CRPS, pinball loss, interval coverage and
Winkler score, for Gaussian and Student-t forecasts given by location, scale (and degrees of freedom).

All functions broadcast over numpy arrays and return per-forecast values; average them yourself (a mean
over days, a mean per horizon step). They work on any scale the parameters are on:

- normalized or plain log returns: CRPS is scale-equivariant, so a CRPS on the normalized scale times the
  codec's `std` is the CRPS on the log-return scale;
- prices: quantiles map to prices monotonically (`price_quantiles`), so pinball loss, coverage and Winkler
  score of price quantiles are exact, and `crps_from_quantiles` scores any forecast given as quantiles,
  including recalibrated ones that have no closed form. (A Student-t on log returns has no finite mean in
  price space, so there is no closed-form price CRPS for it.)
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

QUANTILE_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
INTERVAL_LEVELS = (0.5, 0.8, 0.9, 0.95)


def _standardized(y, loc, scale) -> np.ndarray:
    scale = np.asarray(scale, dtype=float)
    if np.any(~(scale > 0)):
        raise ValueError("predictive scale must be positive and finite; got a value <= 0 or NaN")
    return (np.asarray(y, dtype=float) - loc) / scale


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


def quantile(level, loc, scale, df=None) -> np.ndarray:
    """Quantile at `level` (in (0, 1)) of a Gaussian (`df` None) or Student-t forecast."""
    level = np.asarray(level, dtype=float)
    if np.any((level <= 0) | (level >= 1)):
        raise ValueError(f"quantile levels must lie in (0, 1), got {level}")
    z = stats.norm.ppf(level) if df is None else stats.t.ppf(level, df)
    return loc + np.asarray(scale, dtype=float) * z


def cdf(y, loc, scale, df=None) -> np.ndarray:
    """Probability integral transform: the forecast's CDF at `y`."""
    z = _standardized(y, loc, scale)
    return stats.norm.cdf(z) if df is None else stats.t.cdf(z, df)


def price_quantiles(last, log_return_quantiles) -> np.ndarray:
    """Quantiles of the log return from `last` → quantiles of the price (exp is monotone)."""
    return np.asarray(last, dtype=float) * np.exp(log_return_quantiles)


def pinball(y, q, level: float) -> np.ndarray:
    """Pinball (quantile) loss of the quantile forecast `q` at `level`."""
    diff = np.asarray(y, dtype=float) - q
    return np.maximum(level * diff, (level - 1) * diff)


def crps_from_quantiles(y, quantiles: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """CRPS approximated as twice the mean pinball loss over evenly spaced `levels` (last axis of
    `quantiles`); exact in the limit of a dense grid, and finite for any forecast given as quantiles."""
    levels = np.asarray(levels, dtype=float)
    losses = pinball(np.asarray(y, dtype=float)[..., None], quantiles, levels)
    return 2 * losses.mean(axis=-1)


def central_interval(coverage: float, loc, scale, df=None) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed interval holding `coverage` of the forecast's mass."""
    alpha = 1 - coverage
    return quantile(alpha / 2, loc, scale, df), quantile(1 - alpha / 2, loc, scale, df)


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


def recalibrated_levels(pit: np.ndarray, levels) -> np.ndarray:
    """Conformal recalibration of quantile levels from validation PIT values (the forecast CDF at the
    outcomes): level `a` is replaced by the empirical `a`-quantile of the PIT values, so the recalibrated
    quantile was exceeded on a fraction `a` of validation days. Works per horizon step: pass one step's
    PIT values at a time."""
    pit = np.asarray(pit, dtype=float)
    if pit.ndim != 1 or pit.size < 2:
        raise ValueError(
            f"recalibration needs a 1-D array of at least 2 validation PIT values, got shape {pit.shape}"
        )
    n = pit.size
    eps = 0.5 / n  # keeps the new levels inside (0, 1) so their quantiles stay finite
    return np.clip(np.quantile(pit, np.asarray(levels, dtype=float)), eps, 1 - eps)


def skill(score: float, reference: float) -> float:
    """Skill score against a reference (1 − score / reference): above 0 is better than the reference."""
    return 1.0 - score / reference


def distribution_scores(y, loc, scale, df=None, prefix: str = "") -> dict[str, float]:
    """Mean CRPS, pinball loss per level and coverage / Winkler score per interval, as one flat dict."""
    out = {f"{prefix}crps": float(np.mean(crps(y, loc, scale, df)))}
    for level in QUANTILE_LEVELS:
        q = quantile(level, loc, scale, df)
        out[f"{prefix}pinball_{round(level * 100):02d}"] = float(np.mean(pinball(y, q, level)))
    for cov in INTERVAL_LEVELS:
        lower, upper = central_interval(cov, loc, scale, df)
        tag = round(cov * 100)
        out[f"{prefix}coverage_{tag}"] = float(np.mean(covered(y, lower, upper)))
        out[f"{prefix}winkler_{tag}"] = float(np.mean(winkler(y, lower, upper, cov)))
    return out
