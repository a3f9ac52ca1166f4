"""The Fernandez–Steel skewed Student-t, standardized (location 0, scale 1), in numpy and scipy: the
serving side of the `skewed_t` head (`closecast.distributions.likelihood.SkewedT` trains it in torch).

With `df` degrees of freedom and skew `gamma` > 0 the density is the Student-t's, stretched by `gamma`
to the right of 0 and by `1 / gamma` to the left:

    f(z) = 2 / (gamma + 1 / gamma) * t(z / gamma)   for z >= 0
    f(z) = 2 / (gamma + 1 / gamma) * t(z * gamma)   for z < 0

so 0 stays the mode, a fraction `1 / (1 + gamma**2)` of the mass lies below it, `gamma` = 1 is the
Student-t and `gamma` > 1 leans right. The CDF and the quantile function are the Student-t's, piece by
piece. All functions broadcast over numpy arrays."""

from __future__ import annotations

import numpy as np
from scipy import stats


def _arrays(*values) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in values]


def mass_below_mode(skew) -> np.ndarray:
    """The probability `1 / (1 + gamma**2)` of falling below the mode (0)."""
    (skew,) = _arrays(skew)
    return 1.0 / (1.0 + skew**2)


def logpdf(z, df, skew) -> np.ndarray:
    """Log density at standardized `z`."""
    z, df, skew = _arrays(z, df, skew)
    stretched = np.where(z >= 0, z / skew, z * skew)
    return np.log(2.0) - np.log(skew + 1.0 / skew) + stats.t.logpdf(stretched, df)


def cdf(z, df, skew) -> np.ndarray:
    """CDF at standardized `z`."""
    z, df, skew = _arrays(z, df, skew)
    below = mass_below_mode(skew)
    left = 2.0 * below * stats.t.cdf(z * skew, df)
    # Above the mode the upper tail is the Student-t's, so a far-out z keeps its precision.
    right = 1.0 - 2.0 * (1.0 - below) * stats.t.sf(z / skew, df)
    return np.where(z < 0, left, right)


def ppf(level, df, skew) -> np.ndarray:
    """Standardized quantile at `level` in (0, 1): the inverse of `cdf`."""
    level, df, skew = _arrays(level, df, skew)
    below = mass_below_mode(skew)
    lower = level < below
    with np.errstate(divide="ignore", invalid="ignore"):
        left = stats.t.ppf(level / (2.0 * below), df) / skew
        right = -skew * stats.t.ppf((1.0 - level) / (2.0 * (1.0 - below)), df)
    return np.where(lower, left, right)


def abs_mean(df) -> np.ndarray:
    """E|T| of a standard Student-t with `df` > 1 degrees of freedom."""
    (df,) = _arrays(df)
    return 2.0 * df * stats.t.pdf(0.0, df) / (df - 1.0)


def mean(df, skew) -> np.ndarray:
    """The mean (`df` > 1): (gamma - 1 / gamma) E|T|; 0 only for gamma = 1, since 0 is the mode."""
    (skew,) = _arrays(skew)
    return (skew - 1.0 / skew) * abs_mean(df)


def variance(df, skew) -> np.ndarray:
    """The variance (`df` > 2; NaN below): E[Z²] - E[Z]², E[Z²] = df / (df - 2) (gamma³ + gamma⁻³) /
    (gamma + 1 / gamma)."""
    df, skew = _arrays(df, skew)
    with np.errstate(divide="ignore", invalid="ignore"):
        second = np.where(df > 2, df / (df - 2.0), np.nan) * (skew**3 + skew**-3) / (skew + 1.0 / skew)
    return second - mean(df, skew) ** 2


def partial_mean(z, df, skew) -> np.ndarray:
    """E[Z 1{Z <= z}] (`df` > 1), from the Student-t's ∫ u t(u) du up to a = -(df + a²) / (df - 1) t(a)."""
    z, df, skew = _arrays(z, df, skew)

    def below(a):
        return -(df + a**2) / (df - 1.0) * stats.t.pdf(a, df)

    norm = 2.0 / (skew + 1.0 / skew)
    at_mode = norm / skew**2 * below(0.0)
    left = norm / skew**2 * below(z * skew)
    right = at_mode + norm * skew**2 * (below(z / skew) - below(0.0))
    return np.where(z < 0, left, right)
