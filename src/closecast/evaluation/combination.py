"""The served distribution as a combination: a quantile average of the network's recalibrated
distribution and a volatility baseline's, the network's weight chosen on validation. Like the shrink
toward naive for the point forecast, the network is served only as far as it earned it on validation;
weight 0 serves the baseline alone.

The baseline in the combination is the strong fixed-parameter one (`SERVABLE`) with the lowest
validation CRPS, run as a server runs it: `closecast.distributions.volatility_filter` over the last
`calibration.history` returns before each origin, so what is scored is what `/predict` answers."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from closecast.distributions.predictive import LogReturnForecast, log_return_quantiles
from closecast.distributions.served import Part, combined
from closecast.distributions.volatility_filter import FilterSpec, filter_forecast, history_returns
from closecast.evaluation import scoring_rules as scores
from closecast.evaluation.baselines import FIXED, BaselineFit
from closecast.evaluation.comparison import baseline_forecast
from closecast.evaluation.distribution_scores import GRID, grid_crps
from closecast.evaluation.recalibration import choose_pit, rule_of

log = logging.getLogger(__name__)

SERVABLE = ("ewma_t", "garch_t", "gjr_t", "egarch_t")
WEIGHTS = np.round(np.linspace(0.0, 1.0, 11), 2)
COMBINE = ("auto", "none")


@dataclass
class Combination:
    """The chosen weight, the baseline as a server runs it, its PIT values, and its forecasts per part."""

    weight: float
    name: str
    spec: FilterSpec
    pit: np.ndarray | None
    forecasts: dict[str, LogReturnForecast]
    # The combined validation quantiles on `GRID` at `weight`, as `served_quantiles` gives them for the
    # served parts (`served_parts`): the scoring of validation reads them instead of computing them again.
    val_grid: np.ndarray | None = None

    def baseline_record(self) -> dict[str, Any]:
        """The baseline as plain data for the calibration record (`Calibration.baseline`)."""
        return {"name": self.name, **self.spec.to_dict()}


def served_baseline(prices: np.ndarray, anchors: slice, spec: FilterSpec, horizon: int) -> LogReturnForecast:
    """The baseline's forecasts from each origin of `anchors`, each from the `spec.history` returns
    before it (fewer at the start of the series), exactly as a request with those closes is answered."""
    padded = np.concatenate([np.full(spec.history, np.nan), np.asarray(prices, dtype=np.float64)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, spec.history + 1)
    rows = windows[anchors.start : anchors.stop]  # window i ends at price i
    with np.errstate(invalid="ignore"):
        return filter_forecast(spec, history_returns(rows, spec.history), horizon)


def choose_combination(
    prices: np.ndarray,
    anchors: dict[str, slice],
    y_val: np.ndarray,
    fits: dict[str, BaselineFit],
    network: Part,
    settings: Any,
    horizon: int,
) -> Combination | None:
    """The combination for `calibration.combine=auto` (None for `none`, or with no servable baseline):
    the servable baseline best on validation, and the network weight in `WEIGHTS` whose quantile average
    has the lowest validation CRPS (the network's `network` part holds its validation forecast)."""
    setting = str(settings.get("combine", "auto"))
    if setting not in COMBINE:
        raise ValueError(f"calibration.combine={setting!r} is not one of {COMBINE}")
    if setting == "none":
        return None
    history = int(settings.get("history", 250))

    def as_served(name: str) -> tuple[FilterSpec, dict[str, LogReturnForecast]] | None:
        """The baseline's filter and its forecasts on validation and test; None when the filter over
        `history` closes does not give a positive, finite spread everywhere (a degenerate fit)."""
        params = {k: v for k, v in fits[name].params.items() if k != "backcast"}
        spec = FilterSpec(FIXED[name].process, params, fits[name].params["backcast"], history)
        forecasts = {p: served_baseline(prices, anchors[p], spec, horizon) for p in ("val", "test")}
        ok = all(np.isfinite(fc.scale).all() and (fc.scale > 0).all() for fc in forecasts.values())
        if not ok:
            log.warning(
                "%s is not combined: over %d closes its spread is not positive and finite", name, history
            )
        return (spec, forecasts) if ok else None

    served = {b: as_served(b) for b in SERVABLE if b in fits}
    candidates = [b for b, run in served.items() if run is not None]
    if not candidates:
        return None

    def val_crps(name: str) -> float:
        fc = baseline_forecast(fits[name], anchors["val"])
        return float(np.mean(scores.crps(y_val, *fc.parameters())))

    name = min(candidates, key=val_crps)
    spec, forecasts = served[name]
    pit = choose_pit(forecasts["val"], y_val, rule_of(settings))
    q_net = log_return_quantiles(network.forecast, network.pit, GRID)
    q_base = log_return_quantiles(forecasts["val"], pit, GRID)
    grids = [w * q_net + (1 - w) * q_base for w in WEIGHTS]
    losses = [grid_crps(y_val, q).mean() for q in grids]
    best = int(np.argmin(losses))  # first minimum: the baseline's side of a tie
    return Combination(float(WEIGHTS[best]), name, spec, pit, forecasts, grids[best])


def served_parts(network: Part, combination: Combination | None, part: str) -> list[Part]:
    """The served distribution's parts on `part` (`network` is that part's network forecast)."""
    if combination is None:
        return [network]
    return combined(network, combination.forecasts[part], combination.pit, combination.weight)
