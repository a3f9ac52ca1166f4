"""Volatility baselines for the predictive distribution of the next closes, all centred on the naive
forecast (tomorrow = today, i.e. a log return of 0 from the last observed price), fitted with `arch` on
the training part only and run through validation and test with those parameters fixed:

- `constant`: the standard deviation of the training log returns, the same every day (Gaussian);
- `ewma`: RiskMetrics exponential smoothing of squared returns (λ = 0.94), Gaussian;
- `garch`: GARCH(1,1), Gaussian;
- the ones a volatility specialist would hold a model against, all with Student-t innovations whose
  degrees of freedom are fitted with the rest: `ewma_t` (λ = 0.94, only the degrees of freedom fitted),
  `garch_t` (GARCH(1,1)), `gjr_t` (GJR-GARCH(1,1): a leverage term for falling prices) and `egarch_t`
  (EGARCH(1,1) with its asymmetry term);
- with `refit_every=K` > 0, also `garch_t_refit`, `gjr_t_refit`, `egarch_t_refit`: refitted on the
  expanding window of all prices before every K-th price of validation and test;
- for a series whose High and Low were read (a model with range inputs), `har_range_t` (and with
  `refit_every` > 0 `har_range_t_refit`): a HAR regression on each day's log Parkinson variance,
  Student-t (`closecast.evaluation.range_baseline`).

Each gives `sigma` of shape `(n_prices, horizon)`: `sigma[t, k]` is the forecast standard deviation of
the log return from price `t` to price `t + k + 1`, made with prices up to `t` only (row 0 has no return
yet and is NaN), and the innovations' degrees of freedom per row (None for a Gaussian baseline).
Multi-step spreads add the per-step variances, which assumes uncorrelated returns; GARCH and GJR per-step
variances come from their analytic forecasts, EGARCH, EWMA and constant ones are flat (√h scaling), and a
multi-step Student-t keeps the one-step degrees of freedom."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from arch.univariate import EGARCH, GARCH, Normal, StudentsT, ZeroMean
from arch.univariate.volatility import EWMAVariance, VolatilityProcess

# PERCENT: arch's optimizer is tuned for returns of order 1 (percent), not 0.01, so the fits are on percent
# returns and forecasts are scaled back; the server's filter reads the same parameters, so both take the
# scale (and EWMA's lambda) from it.
from closecast.data.volatility import EWMA_LAMBDA, PERCENT
from closecast.evaluation.range_baseline import har_range


@dataclass(frozen=True)
class Spec:
    """One baseline: its volatility process, innovations, and whether it is refitted."""

    process: str  # constant | ewma | garch | gjr | egarch | har
    student_t: bool = False
    refit: bool = False


FIXED = {
    "constant": Spec("constant"),
    "ewma": Spec("ewma"),
    "garch": Spec("garch"),
    "ewma_t": Spec("ewma", student_t=True),
    "garch_t": Spec("garch", student_t=True),
    "gjr_t": Spec("gjr", student_t=True),
    "egarch_t": Spec("egarch", student_t=True),
}
REFIT = {f"{n}_refit": Spec(FIXED[n].process, True, True) for n in ("garch_t", "gjr_t", "egarch_t")}
# Baselines that read each day's High and Low besides the closes: scored where a run read them.
RANGE = {"har_range_t": Spec("har", student_t=True), "har_range_t_refit": Spec("har", True, True)}
# The reference set: the best of these on validation (of those a run scored) is what the network is held
# against.
STRONG = ("ewma_t", "garch_t", "gjr_t", "egarch_t", *REFIT, *RANGE)
BASELINES = (*FIXED, *REFIT, *RANGE)


@dataclass
class BaselineFit:
    """A baseline's forecasts over a whole series and its training-part parameters (percent returns,
    arch's names), which are what a server needs to run it."""

    name: str
    sigma: np.ndarray  # (n_prices, horizon)
    df: np.ndarray | None = None  # (n_prices,) degrees of freedom per row; None: Gaussian
    params: dict[str, float] = field(default_factory=dict)

    def scale(self, rows: slice | np.ndarray) -> np.ndarray:
        """Location-scale scale `(n, horizon)` of the rows: sigma itself, or for a Student-t the scale
        whose variance is sigma² (σ √((ν − 2) / ν))."""
        sigma = self.sigma[rows]
        if self.df is None:
            return sigma
        nu = self.df[rows][:, None]
        return sigma * np.sqrt((nu - 2.0) / nu)

    def degrees(self, rows: slice | np.ndarray) -> np.ndarray | None:
        """Degrees of freedom `(n, 1)` of the rows (None for a Gaussian)."""
        return None if self.df is None else self.df[rows][:, None]


def log_returns(prices: np.ndarray) -> np.ndarray:
    """Daily log returns of a 1-D array of positive prices (one fewer than the prices)."""
    prices = np.asarray(prices, dtype=float)
    if prices.ndim != 1 or prices.size < 3 or np.any(~(prices > 0)):
        raise ValueError(
            f"volatility baselines need a 1-D series of at least 3 positive prices, got {prices}"
        )
    return np.diff(np.log(prices))


def _check_train(prices: np.ndarray, n_train: int) -> np.ndarray:
    returns = log_returns(prices)
    if not 3 <= n_train <= len(prices):
        raise ValueError(
            f"n_train={n_train} must count at least 3 and at most all {len(prices)} prices; "
            "pass the size of the training part of the chronological split"
        )
    return returns


def _from_step_variances(step_var: np.ndarray) -> np.ndarray:
    # step_var[i, k]: variance of return i + k + 1 seen from return i (known at price i + 1).
    sigma = np.sqrt(np.cumsum(step_var, axis=1))
    return np.vstack([np.full((1, sigma.shape[1]), np.nan), sigma])


def _process(spec: Spec) -> VolatilityProcess:
    return {
        "ewma": lambda: EWMAVariance(EWMA_LAMBDA),
        "garch": lambda: GARCH(p=1, q=1),
        "gjr": lambda: GARCH(p=1, o=1, q=1),
        "egarch": lambda: EGARCH(p=1, o=1, q=1),
    }[spec.process]()


def _filter(spec: Spec, returns: np.ndarray, last_obs: int, horizon: int) -> tuple[np.ndarray, dict]:
    """Step variances `(n_returns, horizon)` of a model fitted on the first `last_obs` returns and run over
    all of them with those parameters fixed, and the parameters."""
    model = ZeroMean(
        returns * PERCENT,
        volatility=_process(spec),
        distribution=StudentsT() if spec.student_t else Normal(),
        rescale=False,
    )
    # `last_obs` limits the likelihood (and the recursion's starting value) to the training returns;
    # the forecast then runs the recursion over the whole series with those parameters fixed, and each
    # row only reads returns up to its own origin.
    fitted = model.fit(last_obs=last_obs, disp="off", show_warning=False)
    fixed = model.fix(fitted.params, last_obs=last_obs)
    # arch has no analytic multi-step EGARCH forecast: its one-step variance, flat over the horizon.
    steps = 1 if spec.process == "egarch" else horizon
    var = np.asarray(fixed.forecast(horizon=steps, start=0, reindex=False, align="origin").variance)
    var = np.repeat(var, horizon, axis=1) if steps < horizon else var
    params = {k: float(v) for k, v in fitted.params.items()}
    # The recursion's starting value, which a server running the fitted model needs too.
    params["backcast"] = float(model.volatility.backcast(returns[:last_obs] * PERCENT))
    return var / PERCENT**2, params


def fit_baseline(
    name: str,
    prices: np.ndarray,
    n_train: int,
    horizon: int = 1,
    refit_every: int = 250,
    high_low: np.ndarray | None = None,
    training_fits: dict | None = None,
) -> BaselineFit:
    """The baseline called `name` (one of `BASELINES`) fitted on the first `n_train` prices; a `_refit`
    baseline is refitted on all earlier prices every `refit_every` prices after the training part. A
    `RANGE` baseline reads `high_low` too: each price's day's High and Low `(n_prices, 2)`.
    `training_fits` (a dict shared by the calls on one series) keeps each model's fit on the training
    part, which a `_refit` baseline starts from as its fixed twin does: one fit where there were two."""
    spec = FIXED.get(name) or REFIT.get(name) or RANGE.get(name)
    if spec is None:
        raise ValueError(f"volatility baseline {name!r} is not one of {BASELINES}")
    returns = _check_train(prices, n_train)
    if spec.refit and refit_every < 1:
        raise ValueError(f"baselines.refit_every={refit_every} must be at least 1 for {name}")
    if spec.process == "har":
        if high_low is None:
            raise ValueError(f"{name} reads each day's High and Low; pass high_low (n_prices, 2)")
        sigma, df, params = har_range(returns, high_low, n_train, horizon, refit_every if spec.refit else 0)
        return BaselineFit(name, sigma, df, params)
    if spec.process == "constant":
        var = returns[: n_train - 1].var(ddof=1)
        return BaselineFit(name, _from_step_variances(np.full((len(returns), horizon), var)))
    step_var, params = _training_fit(spec, returns, n_train - 1, horizon, training_fits)
    df = np.full(len(prices), params["nu"]) if spec.student_t else None
    if spec.refit:
        for origin in range(n_train - 1 + refit_every, len(prices) - 1, refit_every):
            # Forecasts from price `origin` on come from a model fitted on prices 0..origin (sigma row p
            # is step_var row p - 1).
            var, refit = _filter(spec, returns, origin, horizon)
            step_var[origin - 1 :] = var[origin - 1 :]
            df[origin:] = refit["nu"]
    return BaselineFit(name, _from_step_variances(step_var), df, params)


def _training_fit(
    spec: Spec, returns: np.ndarray, last_obs: int, horizon: int, fits: dict | None
) -> tuple[np.ndarray, dict]:
    """`_filter` on the training returns, read from `fits` when the same model was fitted there (a copy:
    a refitted baseline overwrites its rows)."""
    key = (spec.process, spec.student_t)
    if fits is None or key not in fits:
        fitted = _filter(spec, returns, last_obs, horizon)
        if fits is None:
            return fitted
        fits[key] = fitted
    step_var, params = fits[key]
    return step_var.copy(), dict(params)


def fit_baselines(
    names: tuple[str, ...],
    prices: np.ndarray,
    n_train: int,
    horizon: int,
    refit_every: int,
    high_low: np.ndarray | None = None,
) -> dict[str, BaselineFit]:
    """`fit_baseline` for each name, each model fitted on the training part once."""
    training_fits: dict = {}
    return {n: fit_baseline(n, prices, n_train, horizon, refit_every, high_low, training_fits) for n in names}


def baseline_names(refit_every: int, ranges: bool = False) -> tuple[str, ...]:
    """The baselines a run scores: every fixed one, the refitted ones unless `refit_every` is 0, and with
    `ranges` (the series' High and Low were read) the range ones."""
    names = [*FIXED, *(REFIT if refit_every > 0 else ())]
    if ranges:
        names += [n for n, spec in RANGE.items() if refit_every > 0 or not spec.refit]
    return tuple(names)
