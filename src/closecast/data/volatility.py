"""The GARCH, GJR-GARCH, EGARCH and EWMA variance recursions with fitted parameters, in numpy: one
implementation for the input channel `baseline_vol` (`closecast.data.codec`) and for the served
baseline's filter (`closecast.distributions.volatility_filter`), so neither needs `arch`.

The parameters are `arch`'s (names `omega`, `alpha[1]`, `gamma[1]`, `beta[1]`), fitted on percent
returns; `arch` fits them (`closecast.evaluation.baselines`), and the data layer is handed them as plain
data (`VolFit`)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

PROCESSES = ("ewma", "garch", "gjr", "egarch")
PERCENT = 100.0  # the parameters are for percent returns, as `arch` fitted them
EWMA_LAMBDA = 0.94
_ABS_NORMAL = math.sqrt(2.0 / math.pi)  # E|z| of a standard normal: arch's EGARCH centring constant
PARAMS = ("omega", "alpha[1]", "gamma[1]", "beta[1]")  # what the recursions read (0 where a model has none)

# The Student-t baselines whose conditional spread `baseline_vol` can be (`data.vol_input`), by process.
VOL_INPUTS = {"garch_t": "garch", "gjr_t": "gjr", "egarch_t": "egarch"}

# What fits a `VOL_INPUTS` model for the data layer: (name, the series' prices, the size of its training
# part) → its parameters fitted on the training part only (arch's names, percent returns).
VolFit = Callable[[str, np.ndarray, int], dict[str, float]]


def variance_path(
    process: str, params: dict[str, np.ndarray | float], start: np.ndarray | float, returns: np.ndarray
) -> np.ndarray:
    """Returns `(n, k)` (log returns, oldest first; NaN where a row has none yet) → the conditional
    variances `(n, k + 1)`: column j is that of return j given the returns before it, the last column that
    of the next return. `params` and `start` (the state before the first return, arch's backcast: a log
    variance for EGARCH, in percent²) are scalars or `(n,)` arrays, one per row. A row's state stays as it
    is over its NaN cells, so a NaN-padded row reads only its own returns."""
    r = np.asarray(returns, dtype=np.float64) * PERCENT
    n = r.shape[0]
    # Columns no row has seen leave every state as it is: the recursion starts at the first column some
    # row has, and those before it hold the starting state.
    seen_all = np.isfinite(r)
    seen_any = seen_all.any(axis=0)
    first = int(np.argmax(seen_any)) if seen_any.any() else r.shape[1]
    seen_all = seen_all[:, first:]
    r = np.where(seen_all, r[:, first:], 0.0)
    omega, alpha, gamma, beta = (params.get(k, 0.0) for k in PARAMS)
    path = []
    if process == "egarch":
        ln_var = np.broadcast_to(start, (n,)).astype(np.float64)  # arch's EGARCH backcast: a log variance
        started = np.zeros(n, dtype=bool)
        z = np.zeros(n)
        before = np.exp(ln_var)
        for col, seen in zip(r.T, seen_all.T, strict=True):
            shock = np.where(started, alpha * (np.abs(z) - _ABS_NORMAL) + gamma * z, 0.0)
            ln_var = np.where(seen, np.minimum(omega + shock + beta * ln_var, 700.0), ln_var)
            path.append(np.exp(ln_var))
            z = np.where(seen, col / np.exp(0.5 * ln_var), z)
            started |= seen
        shock = np.where(started, alpha * (np.abs(z) - _ABS_NORMAL) + gamma * z, 0.0)
        var = np.exp(np.minimum(omega + shock + beta * ln_var, 700.0))
    elif process == "ewma":
        var = np.broadcast_to(start, (n,)).astype(np.float64)
        before = var
        for col, seen in zip(r.T, seen_all.T, strict=True):
            path.append(var)
            var = np.where(seen, EWMA_LAMBDA * var + (1 - EWMA_LAMBDA) * col**2, var)
    else:
        # Before the first return, arch puts the backcast in every lagged term (half of it for the
        # leverage term, whose sign is unknown).
        var = np.broadcast_to(start, (n,)).astype(np.float64)
        before = var
        sq, neg = var.copy(), np.full(n, 0.5)
        for col, seen in zip(r.T, seen_all.T, strict=True):
            var = np.where(seen, omega + (alpha + gamma * neg) * sq + beta * var, var)
            path.append(var)
            sq = np.where(seen, col**2, sq)
            neg = np.where(seen, (col < 0).astype(float), neg)
        var = omega + (alpha + gamma * neg) * sq + beta * var
    out = np.empty((n, first + len(path) + 1))
    out[:, :first] = np.asarray(before)[:, None]
    if path:
        out[:, first:-1] = np.stack(path, axis=1)
    out[:, -1] = var
    return out / PERCENT**2


def log_vol_path(process: str, vol: list, returns: torch.Tensor) -> torch.Tensor:
    """The input channel `baseline_vol` before scaling: returns `(..., k)` of whole windows → the log
    conditional standard deviation `(..., k + 1)` of each next return (column j: of return j, from the
    returns before it), on their device, the recursion of `process` started afresh in each window. `vol`
    holds `PARAMS` then the starting variance (percent²), each a float or a `(..., 1)` column."""
    r = returns.detach().cpu().numpy().astype(np.float64)
    lead = r.shape[:-1]

    def rows(value) -> np.ndarray | float:
        value = np.asarray(value.cpu() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
        return float(value) if value.size == 1 else np.broadcast_to(value[..., 0], lead).reshape(-1)

    *params, start = (rows(v) for v in vol)
    start = np.log(start) if process == "egarch" else start
    var = variance_path(process, dict(zip(PARAMS, params, strict=True)), start, r.reshape(-1, r.shape[-1]))
    path = 0.5 * np.log(var).reshape(*lead, r.shape[-1] + 1)
    return torch.from_numpy(path).to(returns.device)


def fitted_vol_filter(params: dict[str, float] | None, train_returns: np.ndarray) -> dict:
    """A codec's `vol_filter`: the fitted `PARAMS` (arch's names, percent returns) and where every
    window's recursion starts, the variance of the training part's log returns (percent²): the long-run
    level, the same for every window wherever it starts."""
    start = float(np.var(np.asarray(train_returns, dtype=np.float64) * PERCENT, ddof=1))
    return {"params": {k: float(v) for k, v in (params or {}).items() if k in PARAMS}, "start": start}


def check_vol_filter(vol_input: str, vol_filter: dict | None) -> None:
    """Refuse an unknown `vol_input` and a `vol_filter` (None: not used) without finite numbers."""
    if vol_input not in VOL_INPUTS:
        raise ValueError(f"data.vol_input={vol_input!r} is not one of {list(VOL_INPUTS)}")
    if vol_filter is None:
        return
    params = vol_filter.get("params")
    values = [*(params or {}).values(), vol_filter.get("start")]
    if not isinstance(params, dict) or not all(isinstance(v, float) and math.isfinite(v) for v in values):
        raise ValueError(f"baseline_vol needs a vol_filter of finite params and start, got {vol_filter}")
