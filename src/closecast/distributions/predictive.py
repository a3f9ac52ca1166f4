"""The model's predictive distribution as served: network output → a distribution of the log return from
the last observed price → quantiles, recalibrated on the validation part.

Evaluation and serving both call this module, so the quantiles that are scored are the ones served. The
location is the network's, shrunk toward naive by the calibration's shrink exactly like the point forecast;
the scale (and degrees of freedom, and skew) are the network's. Recalibration is conformal on the probability
integral transform (PIT): the validation outcomes' values of the forecast CDF, sorted per horizon step,
are kept as a plain tensor; a nominal level `a` is served as the empirical `a`-quantile of those PIT
values (`recalibrated_levels`), so on validation each quantile was exceeded on a fraction `a` of days,
per step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from closecast.data.codec import Codec
from closecast.distributions import skewed_t
from closecast.distributions.likelihood import Likelihood


def _standardized(y, loc, scale) -> np.ndarray:
    scale = np.asarray(scale, dtype=float)
    if np.any(~(scale > 0)):
        raise ValueError("predictive scale must be positive and finite; got a value <= 0 or NaN")
    return (np.asarray(y, dtype=float) - loc) / scale


def _t_ppf(level: np.ndarray, df) -> np.ndarray:
    """Standard Student-t quantiles, broadcast over `level` and `df`; a fitted baseline has one or a few
    degrees-of-freedom values, so the CDF is inverted once per distinct value, not once per forecast."""
    df = np.asarray(df, dtype=float)
    values = np.unique(df)
    if values.size * 4 > df.size:
        return stats.t.ppf(level, df)
    out = np.empty(np.broadcast_shapes(level.shape, df.shape))
    for value in values:
        out = np.where(df == value, stats.t.ppf(level, value), out)
    return out


def quantile(level, loc, scale, df=None, skew=None) -> np.ndarray:
    """Quantile at `level` (in (0, 1)) of a Gaussian (`df` None), Student-t or skewed Student-t (`skew`
    given) forecast."""
    level = np.asarray(level, dtype=float)
    if np.any((level <= 0) | (level >= 1)):
        raise ValueError(f"quantile levels must lie in (0, 1), got {level}")
    if skew is not None:
        z = skewed_t.ppf(level, df, skew)
    elif df is None:
        z = stats.norm.ppf(level)
    else:
        z = _t_ppf(level, df)
    return loc + np.asarray(scale, dtype=float) * z


def cdf(y, loc, scale, df=None, skew=None) -> np.ndarray:
    """Probability integral transform: the forecast's CDF at `y`."""
    z = _standardized(y, loc, scale)
    if skew is not None:
        return skewed_t.cdf(z, df, skew)
    return stats.norm.cdf(z) if df is None else stats.t.cdf(z, df)


def recalibrated_levels(pit: np.ndarray, levels) -> np.ndarray:
    """Conformal recalibration of quantile levels from validation PIT values (the forecast CDF at the
    outcomes): level `a` is replaced by the empirical `a`-quantile of the PIT values, so the recalibrated
    quantile was exceeded on a fraction `a` of validation days. PIT values `(m, ...)` along axis 0 (one
    column per horizon step, and per series when stacked) → levels `(L, ...)`, each column on its own."""
    pit = np.asarray(pit, dtype=float)
    if pit.ndim < 1 or pit.shape[0] < 2:
        raise ValueError(
            f"recalibration needs at least 2 validation PIT values along axis 0, got shape {pit.shape}"
        )
    eps = 0.5 / pit.shape[0]  # keeps the new levels inside (0, 1) so their quantiles stay finite
    return np.clip(np.quantile(pit, np.asarray(levels, dtype=float), axis=0), eps, 1 - eps)


@dataclass
class LogReturnForecast:
    """Location-scale forecasts of the log return from the last price, each `(n, horizon)`; `df` is
    None for a Gaussian head, `skew` None for all but a skewed Student-t head."""

    loc: np.ndarray
    scale: np.ndarray
    df: np.ndarray | None = None
    skew: np.ndarray | None = None

    def cdf(self, y: np.ndarray) -> np.ndarray:
        """PIT values of outcomes `y` `(n, horizon)`."""
        return cdf(y, *self.parameters())

    def quantile(self, level) -> np.ndarray:
        """Quantiles at `level`, broadcast against `(n, horizon)` (no recalibration)."""
        return quantile(level, *self.parameters())

    def rows(self, rows: slice | np.ndarray) -> LogReturnForecast:
        """The forecasts of the samples `rows` (a slice, indices or a mask)."""
        return LogReturnForecast(*(None if a is None else a[rows] for a in self.parameters()))

    def parameters(self) -> tuple[np.ndarray | None, ...]:
        """`(loc, scale, df, skew)`, the arguments of the module's `quantile` and `cdf`."""
        return self.loc, self.scale, self.df, self.skew


def log_return_forecast(
    codec: Codec, likelihood: Likelihood, raw: torch.Tensor, shrink: float
) -> LogReturnForecast:
    """Network outputs `(n, horizon, n_params)` of a distribution head → the served log-return
    distribution, its location shrunk toward naive by `shrink`."""
    if codec.target != "return":
        raise ValueError(
            f"model.likelihood={likelihood.name} needs data.target=return (got {codec.target!r}); "
            "use model.likelihood=none with data.target=level"
        )
    pred = likelihood.predictive(torch.as_tensor(raw).double())
    loc = pred.loc.cpu().numpy() * shrink * codec.std
    scale = pred.scale.cpu().numpy() * codec.std
    df, skew = (None if a is None else a.cpu().numpy() for a in (pred.df, pred.skew))
    return LogReturnForecast(loc, scale, df, skew)


def sorted_pit(forecast: LogReturnForecast, y: np.ndarray) -> np.ndarray:
    """The recalibration set: validation PIT values sorted per horizon step, `(n, horizon)`."""
    return np.sort(forecast.cdf(y), axis=0)


def served_levels(pit: np.ndarray | list | None, levels) -> np.ndarray:
    """Nominal `levels` `(L,)` → the levels to read from the forecast: `(L, horizon)` for sorted PIT values
    `(m, horizon)` shared by every row, `(L, 1)` (unchanged) for None, and `(n, L, horizon)` for a list of
    one per row (`row_levels`)."""
    levels = np.asarray(levels, dtype=float)
    if isinstance(pit, list):
        return row_levels(pit, levels)
    if pit is None:
        return levels[:, None]
    return recalibrated_levels(pit, levels)


def row_levels(pits: list[np.ndarray | None], levels: np.ndarray) -> np.ndarray:
    """The served levels `(n, L, horizon)` of rows each recalibrated by its own PIT values `pits[i]`
    (`(m, horizon)` or None); rows of one series share one array, recalibrated once, and arrays of one
    shape are stacked so that one `np.quantile` serves them all."""
    distinct = {id(p): p for p in pits if p is not None}
    by_shape: dict[tuple, list[int]] = {}
    for key, p in distinct.items():
        by_shape.setdefault(np.shape(p), []).append(key)
    horizon = max((shape[1] for shape in by_shape), default=1)
    table = [np.broadcast_to(levels[:, None], (levels.size, horizon))]  # row 0: not recalibrated
    slot = {}
    for keys in by_shape.values():
        stacked = recalibrated_levels(np.stack([distinct[k] for k in keys], axis=1), levels)  # (L, s, h)
        slot.update({k: len(table) + j for j, k in enumerate(keys)})
        table.extend(np.moveaxis(stacked, 1, 0))
    return np.stack(table)[[0 if p is None else slot[id(p)] for p in pits]]


def log_return_quantiles(forecast: LogReturnForecast, pit: np.ndarray | list | None, levels) -> np.ndarray:
    """Recalibrated quantiles of the log return, `(n, horizon, L)` for nominal `levels` `(L,)`, by PIT
    values shared by every row or one per row (`served_levels`)."""
    used = np.swapaxes(served_levels(pit, levels), -1, -2)  # (horizon or 1, L) or (n, horizon, L)
    used = used[None] if used.ndim == 2 else used
    return quantile(used, *(None if a is None else a[..., None] for a in forecast.parameters()))
