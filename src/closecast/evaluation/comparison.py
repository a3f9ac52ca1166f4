"""The network's distribution against the volatility baselines, like for like.

Every method is scored twice per part: as fitted (closed form; the network's keys are `<part>/raw/…`, a
baseline's `<part>/<baseline>/…`) and as served, after the same recalibration on validation
(`<part>/served/…` for what `/predict` answers, `<part>/<baseline>/served/…` for what serving that
baseline would answer; `closecast.evaluation.recalibration` decides whether each is recalibrated). The
reference is the strong baseline (`baselines.STRONG`) with the lowest served validation CRPS; on test the
served distribution is held against it with the Diebold-Mariano statistic, the 10% model confidence set
of every served method, Value-at-Risk backtests and a PIT uniformity test. Nothing here reads the test
part to choose anything."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from closecast.distributions.predictive import LogReturnForecast
from closecast.distributions.served import Part, served_quantiles
from closecast.evaluation import scoring_rules as scores
from closecast.evaluation.baselines import STRONG, BaselineFit
from closecast.evaluation.calibration_tests import VAR_LEVELS, pit_uniformity, var_backtest
from closecast.evaluation.distribution_scores import (
    GRID,
    at_level,
    closed_form_scores,
    grid_pit,
    grid_scores,
)
from closecast.evaluation.recalibration import choose_pit
from closecast.evaluation.significance import MCS_SIZE, confidence_set, diebold_mariano

PARTS = ("val", "test")


@dataclass
class Comparison:
    """Distribution metrics of both parts, the reference baseline's name and what is served."""

    metrics: dict[str, float]
    reference: str | None = None
    # Per-sample served test CRPS `(n,)` of each method ("served": the model), for tests over many folds.
    losses: dict[str, np.ndarray] = field(default_factory=dict)
    # The served distribution's quantiles on `GRID` `(n, horizon, len(GRID))` per part (none for a point
    # network): computed once, read again by whoever needs them.
    served_grid: dict[str, np.ndarray] = field(default_factory=dict)


def reference_of(metrics: dict[str, float], head: str = "") -> str | None:
    """The strong baseline with the lowest served validation CRPS among `metrics` (keys under `head`, e.g.
    `AAPL/` for one series of several), or None when no strong baseline was scored."""
    scored = [b for b in STRONG if f"{head}val/{b}/served/crps" in metrics]
    return min(scored, key=lambda b: metrics[f"{head}val/{b}/served/crps"]) if scored else None


def baseline_forecast(fit: BaselineFit, anchors: slice) -> LogReturnForecast:
    """A baseline's naive-centred forecast for the samples whose origins are `anchors`."""
    scale = fit.scale(anchors)
    return LogReturnForecast(np.zeros_like(scale), scale, fit.degrees(anchors))


def _skills(metrics: dict[str, float], part: str, heads: list[str], suffix: str) -> None:
    reference = metrics.get(f"{part}/constant{suffix}/crps")
    if reference:
        for head in heads:
            if f"{head}/crps" in metrics:
                metrics[f"{head}/skill"] = scores.skill(metrics[f"{head}/crps"], reference)


def _test_of_fit(y: np.ndarray, q: np.ndarray, head: str) -> dict[str, float]:
    out = {f"{head}/pit_p": pit_uniformity(grid_pit(y, q)[:, 0])}
    for level in VAR_LEVELS:
        hits = y[:, 0] < at_level(q, level)[:, 0]
        tests = var_backtest(hits, level)
        out.update({f"{head}/var{round(level * 100):02d}/{k}": v for k, v in tests.items()})
    return out


def compare(
    y: dict[str, np.ndarray],
    anchors: dict[str, slice],
    fits: dict[str, BaselineFit],
    raw: dict[str, LogReturnForecast] | None = None,
    served: dict[str, list[Part]] | None = None,
    recalibrate: str = "auto",
    seed: int = 0,
    served_grid: dict[str, np.ndarray] | None = None,
) -> Comparison:
    """Scores of the baselines `fits`, the network's raw forecasts `raw` and the served distribution
    (its parts per part of the data, `served`) on outcomes `y` (`(n, horizon)` log returns per part), each
    baseline recalibrated under the `recalibrate` rule the network's parts were; the reference, and on test
    the significance of the served distribution against it. `served_grid` holds the served quantiles on
    `GRID` of the parts where the caller has them already (the same numbers, not computed again)."""
    metrics: dict[str, float] = {}
    quantiles: dict[str, dict[str, np.ndarray]] = {p: {} for p in PARTS}
    pits = {}
    for name, fit in fits.items():
        val_fc = baseline_forecast(fit, anchors["val"])
        pits[name] = choose_pit(val_fc, y["val"], recalibrate)
        metrics[f"baselines/{name}/recalibrated"] = float(pits[name] is not None)
        for part in PARTS:
            fc = val_fc if part == "val" else baseline_forecast(fit, anchors[part])
            metrics.update(closed_form_scores(y[part], fc, f"{part}/{name}"))
            quantiles[part][name] = served_quantiles([Part(fc, pits[name])], GRID)
    for part in PARTS:
        if raw is not None:
            metrics.update(closed_form_scores(y[part], raw[part], f"{part}/raw"))
        if served is not None:
            given = (served_grid or {}).get(part)
            quantiles[part]["served"] = served_quantiles(served[part], GRID) if given is None else given
    losses: dict[str, np.ndarray] = {}
    for part in PARTS:
        for name, q in quantiles[part].items():
            head = f"{part}/served" if name == "served" else f"{part}/{name}/served"
            got, crps = grid_scores(y[part], q, head)
            metrics.update(got)
            if part == "test":
                losses[name] = crps
        _skills(metrics, part, [f"{part}/raw", *(f"{part}/{b}" for b in fits)], "")
        _skills(metrics, part, [f"{part}/served", *(f"{part}/{b}/served" for b in fits)], "/served")
    reference = reference_of(metrics)
    if "served" not in losses:
        return Comparison(metrics, reference, losses)
    grid = {part: quantiles[part]["served"] for part in PARTS}
    metrics.update(_test_of_fit(y["test"], quantiles["test"]["served"], "test/served"))
    if reference is not None:
        ref = f"test/{reference}/served"
        metrics.update(_test_of_fit(y["test"], quantiles["test"][reference], ref))
        metrics["test/served/vs_reference"] = metrics["test/served/crps"] / metrics[f"{ref}/crps"]
        t, p = diebold_mariano(losses["served"], losses[reference], min_lag=y["test"].shape[1] - 1)
        metrics["test/served/dm_t"], metrics["test/served/dm_p"] = t, p
    for name, p in confidence_set(losses, seed).items():
        head = "test/served" if name == "served" else f"test/{name}/served"
        metrics[f"{head}/mcs_p"] = p
        metrics[f"{head}/in_mcs"] = float(p > MCS_SIZE)
    return Comparison(metrics, reference, losses, grid)
