"""A fitted volatility baseline run over the closes a request sends: the one-step variance of the next
log return from the GARCH, GJR-GARCH, EGARCH or EWMA recursion with the parameters fitted on the
training part (by `arch`, in `closecast.evaluation.baselines`), in numpy, so serving needs no `arch`.

The recursion starts from the training part's backcast, as `arch` starts its own, and reads the last
`history` returns of what it is given; `arch`'s filter over a whole series gives the same numbers
(a test checks it). Scoring the served distribution runs this same filter over the same number of
past prices a request may send, so what is scored is what is served."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from closecast.distributions.predictive import LogReturnForecast

PROCESSES = ("ewma", "garch", "gjr", "egarch")
PERCENT = 100.0  # the parameters are for percent returns, as `arch` fitted them
EWMA_LAMBDA = 0.94
_ABS_NORMAL = math.sqrt(2.0 / math.pi)  # E|z| of a standard normal: arch's EGARCH centring constant


@dataclass
class FilterSpec:
    """A fitted baseline as plain data: its process, `arch`'s parameter names and values (`omega`,
    `alpha[1]`, `gamma[1]`, `beta[1]`, `nu`), the training backcast, and how many past returns it reads."""

    process: str
    params: dict[str, float] = field(default_factory=dict)
    backcast: float = 1.0
    history: int = 250

    def __post_init__(self) -> None:
        if self.process not in PROCESSES:
            raise ValueError(f"volatility filter process {self.process!r} is not one of {PROCESSES}")
        if not (isinstance(self.history, int) and self.history >= 1):
            raise ValueError(f"volatility filter history must be a positive integer, got {self.history!r}")
        if not all(isinstance(v, float) and math.isfinite(v) for v in [*self.params.values(), self.backcast]):
            raise ValueError("volatility filter parameters must be finite numbers")

    def to_dict(self) -> dict:
        return {
            "process": self.process,
            "params": dict(self.params),
            "backcast": self.backcast,
            "history": self.history,
        }


Specs = FilterSpec | Sequence[FilterSpec]  # one spec for every row, or one per row (all of one process)


def _stacked(specs: Specs, n: int) -> tuple[str, dict[str, np.ndarray | float], np.ndarray | float]:
    """The process, parameters and backcast of `specs`: scalars for one spec, `(n,)` arrays for one a row."""
    if isinstance(specs, FilterSpec):
        return specs.process, {k: float(v) for k, v in specs.params.items()}, specs.backcast
    if len(specs) != n or len({s.process for s in specs}) != 1:
        raise ValueError(f"one filter spec per row, all of one process: got {len(specs)} for {n} rows")
    names = {k for s in specs for k in s.params}
    params = {k: np.array([s.params.get(k, 0.0) for s in specs], dtype=np.float64) for k in names}
    return specs[0].process, params, np.array([s.backcast for s in specs], dtype=np.float64)


def one_step_variance(specs: Specs, returns: np.ndarray) -> np.ndarray:
    """Returns `(n, k)` (percent-free log returns, oldest first; NaN where a row has fewer) → the variance
    `(n,)` of each row's next return, by one fitted spec or one per row (`Specs`)."""
    r = np.asarray(returns, dtype=np.float64) * PERCENT
    n = r.shape[0]
    process, params, backcast = _stacked(specs, n)
    # Where a row has no return yet (NaN padding), its state is left as it is; columns no row has seen
    # yet leave every state as it is, so the recursion starts at the first column some row has.
    seen_all = np.isfinite(r)
    seen_any = seen_all.any(axis=0)
    first = int(np.argmax(seen_any)) if seen_any.any() else r.shape[1]
    seen_all = seen_all[:, first:]
    r = np.where(seen_all, r[:, first:], 0.0)
    omega, alpha, gamma, beta = (params.get(k, 0.0) for k in ("omega", "alpha[1]", "gamma[1]", "beta[1]"))
    if process == "egarch":
        ln_var = np.broadcast_to(backcast, (n,)).astype(np.float64)  # arch's EGARCH backcast: a log variance
        started = np.zeros(n, dtype=bool)
        z = np.zeros(n)
        for col, seen in zip(r.T, seen_all.T, strict=True):
            shock = np.where(started, alpha * (np.abs(z) - _ABS_NORMAL) + gamma * z, 0.0)
            ln_var = np.where(seen, np.minimum(omega + shock + beta * ln_var, 700.0), ln_var)
            z = np.where(seen, col / np.exp(0.5 * ln_var), z)
            started |= seen
        shock = np.where(started, alpha * (np.abs(z) - _ABS_NORMAL) + gamma * z, 0.0)
        var = np.exp(np.minimum(omega + shock + beta * ln_var, 700.0))
    elif process == "ewma":
        var = np.broadcast_to(backcast, (n,)).astype(np.float64)
        for col, seen in zip(r.T, seen_all.T, strict=True):
            var = np.where(seen, EWMA_LAMBDA * var + (1 - EWMA_LAMBDA) * col**2, var)
    else:
        # Before the first return, arch puts the backcast in every lagged term (half of it for the
        # leverage term, whose sign is unknown).
        var = np.broadcast_to(backcast, (n,)).astype(np.float64)
        sq, neg = var.copy(), np.full(n, 0.5)
        for col, seen in zip(r.T, seen_all.T, strict=True):
            var = np.where(seen, omega + (alpha + gamma * neg) * sq + beta * var, var)
            sq = np.where(seen, col**2, sq)
            neg = np.where(seen, (col < 0).astype(float), neg)
        var = omega + (alpha + gamma * neg) * sq + beta * var
    return var / PERCENT**2


def history_returns(prices: np.ndarray, history: int) -> np.ndarray:
    """Rows of prices `(n, m)` (oldest first) → their last `history` log returns `(n, history)`, NaN-padded
    on the left where a row is shorter."""
    prices = np.asarray(prices, dtype=np.float64)
    r = np.diff(np.log(prices), axis=1)[:, -history:]
    pad = history - r.shape[1]
    return np.hstack([np.full((r.shape[0], pad), np.nan), r]) if pad > 0 else r


def filter_forecast(specs: Specs, returns: np.ndarray, horizon: int) -> LogReturnForecast:
    """The baseline's naive-centred forecast `(n, horizon)` from each row of past `returns` (by one spec or
    one per row, `Specs`): one-step variance, flat over the horizon (√h), Student-t with the fitted degrees
    of freedom when the spec has them (one per row: all have them or none)."""
    var = one_step_variance(specs, returns)[:, None] * np.arange(1, horizon + 1)
    rows = [specs] if isinstance(specs, FilterSpec) else list(specs)
    has_nu = {"nu" in s.params for s in rows}
    if has_nu == {False}:
        return LogReturnForecast(np.zeros_like(var), np.sqrt(var))
    if has_nu != {True}:
        raise ValueError("filter specs of one call must all have Student-t degrees of freedom or none")
    nu = np.array([s.params["nu"] for s in rows], dtype=np.float64)[:, None]
    nu = np.broadcast_to(nu, var.shape) if len(rows) > 1 else np.full_like(var, nu.item())
    scale = np.sqrt(var * (nu - 2.0) / nu)
    return LogReturnForecast(np.zeros_like(var), scale, np.array(nu))
