"""A fitted volatility baseline run over the closes a request sends: the one-step variance of the next
log return from the GARCH, GJR-GARCH, EGARCH or EWMA recursion with the parameters fitted on the
training part (by `arch`, in `closecast.evaluation.baselines`), in numpy, so serving needs no `arch`
(the recursions themselves are `closecast.data.volatility`'s, shared with the `baseline_vol` input).

The recursion starts from the training part's backcast, as `arch` starts its own, and reads the last
`history` returns of what it is given; `arch`'s filter over a whole series gives the same numbers
(a test checks it). Scoring the served distribution runs this same filter over the same number of
past prices a request may send, so what is scored is what is served."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from closecast.data.volatility import PROCESSES, variance_path
from closecast.distributions.predictive import LogReturnForecast


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
    r = np.asarray(returns, dtype=np.float64)
    process, params, backcast = _stacked(specs, r.shape[0])
    return variance_path(process, params, backcast, r)[:, -1]


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
