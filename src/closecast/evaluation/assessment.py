"""Scoring a fitted network: calibrate it on validation, then score validation and test in prices beside
the naive and drift baselines, and its raw and served predictive distributions beside the volatility
baselines (`closecast.evaluation.comparison`). These are the final scores of a run (`metrics.json`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from closecast.data.codec import Codec
from closecast.data.windows import WindowSet
from closecast.distributions.calibration import Calibration
from closecast.distributions.conformal import interval_bounds, log_residuals, part_scale
from closecast.distributions.likelihood import Likelihood
from closecast.distributions.predictive import (
    LogReturnForecast,
    log_return_forecast,
)
from closecast.distributions.served import Part, served_quantiles
from closecast.evaluation.baseline_cache import fitted_baselines
from closecast.evaluation.combination import choose_combination, served_parts
from closecast.evaluation.comparison import Comparison, compare
from closecast.evaluation.distribution_scores import outcome
from closecast.evaluation.point import interval_coverage, score_forecasts
from closecast.evaluation.recalibration import choose_pit, rule_of
from closecast.evaluation.shrink import shrink_choice

# Scores the module logs every epoch during fit (see `ForecastModule`); in metrics.json they are the kept
# (best) epoch's values. Every other metric of a run is computed once, at the end, by `assess`.
RAW = ("mae", "rmse", "mape", "mase")


EPOCH_METRICS = ("train/loss", "val/loss", *(f"val/raw/{k}" for k in RAW))


@torch.inference_mode()
def predict_normalized(net: torch.nn.Module, part: WindowSet, batch_size: int = 4096) -> torch.Tensor:
    """Network outputs for every sample of a part, on the CPU."""
    net.eval()
    device = next(net.parameters()).device
    outs = [net(part.x[i : i + batch_size].to(device)).cpu() for i in range(0, len(part), batch_size)]
    return torch.cat(outs)


def calibrate(
    codec: Codec,
    likelihood: Likelihood,
    raw_val: torch.Tensor,
    val: WindowSet,
    calibration: Any,
) -> tuple[Calibration, LogReturnForecast | None]:
    """The validation choices (`Calibration`) from the `calibration` settings and the network's raw
    validation outputs `raw_val`: the shrink, the interval scaling, the conformal residuals of the shrunk
    forecast and, for a distribution head, its sorted validation PIT values; with the validation
    forecast distribution it was read from (None for a point network). Nothing here reads the test part."""
    y_val = likelihood.location(raw_val)
    min_gain_z = float(calibration.get("min_gain_z", 0.0))
    shrink, why = shrink_choice(codec, y_val, val, calibration.shrink, min_gain_z)
    interval_scale = str(calibration.get("interval_scale", "none"))
    pred = codec.decode(y_val, val.last, shrink).numpy()
    residuals = log_residuals(pred, val.future.numpy(), part_scale(interval_scale, val))
    fc, pit = None, None
    if likelihood.has_distribution:
        fc = log_return_forecast(codec, likelihood, raw_val, shrink)
        chosen = choose_pit(fc, outcome(val.last.numpy(), val.future.numpy()), rule_of(calibration))
        pit = None if chosen is None else torch.from_numpy(chosen)
    return Calibration(torch.from_numpy(residuals), shrink, interval_scale, pit, shrink_why=why), fc


def bounds(
    calibration: Calibration, pred: np.ndarray, part: WindowSet, level: float, served: list[Part] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper prices `(n, horizon)` of the central `level` interval: the quantiles of the served
    distribution (its `served` parts), or the conformal interval around `pred` for a point network."""
    if served is None:
        return interval_bounds(calibration, pred, part, level)
    q = served_quantiles(served, [(1 - level) / 2, (1 + level) / 2])
    last = part.last.numpy()[:, None]
    return last * np.exp(q[..., 0]), last * np.exp(q[..., 1])


def score_part(
    codec: Codec,
    y_hat: torch.Tensor,
    part: WindowSet,
    calibration: Calibration,
    level: float,
    prefix: str,
    served: list[Part] | None = None,
) -> dict[str, float]:
    """Model, naive and drift scores on one part, plus the coverage of the `level` interval."""
    pred = codec.decode(y_hat, part.last, calibration.shrink).numpy()
    return price_scores(codec, pred, part, calibration, level, prefix, served)


def price_scores(
    codec: Codec,
    pred: np.ndarray,
    part: WindowSet,
    calibration: Calibration,
    level: float,
    prefix: str,
    served: list[Part] | None = None,
) -> dict[str, float]:
    """`score_part` for predicted prices `pred` `(n, horizon)`: model, naive and drift (`codec`'s, fitted
    on training) scores, and the coverage of the `level` interval."""
    future = part.future.numpy()
    report = score_forecasts(
        {"model": pred, "drift": codec.drift_forecast(part.last).numpy()}, future, part.last.numpy()
    )
    flat: dict[str, float] = {}
    for method, scores in report.items():
        head = prefix if method == "model" else f"{prefix}/{method}"
        flat.update({f"{head}/{k}": v for k, v in scores.items()})
    lower, upper = bounds(calibration, pred, part, level, served)
    flat[f"{prefix}/coverage"] = interval_coverage(future, lower, upper)
    return flat


def raw_scores(
    codec: Codec, y_hat: torch.Tensor, last: torch.Tensor, future: torch.Tensor
) -> dict[str, float]:
    """The network's own price scores before any shrink: `val/raw/*`, logged by the module every epoch
    and computed again for the kept network at the end."""
    pred = codec.decode(y_hat, last, shrink=1.0)
    pred, future, last = (t.detach().cpu().numpy() for t in (pred, future, last))
    return {k: v for k, v in score_forecasts({"model": pred}, future, last)["model"].items() if k in RAW}


def compare_distributions(
    codec: Codec,
    likelihood: Likelihood,
    raw: tuple[torch.Tensor, torch.Tensor],
    parts: dict[str, WindowSet],
    fits: dict,
    calibration: Calibration,
    settings: Any,
    prices: np.ndarray | None = None,
) -> tuple[Comparison, Calibration, dict[str, list[Part]] | None]:
    """The network's raw and served distributions against the baselines, the calibration record
    completed with the combination chosen on validation (`calibration.combine`), and the served
    distribution's parts per part (None for a point network)."""
    y = {p: outcome(parts[p].last.numpy(), parts[p].future.numpy()) for p in ("val", "test")}
    anchors = {p: parts[p].anchors for p in ("val", "test")}
    rule = rule_of(settings)
    if not likelihood.has_distribution:
        return compare(y, anchors, fits, recalibrate=rule), calibration, None
    pit = None if calibration.pit is None else calibration.pit.numpy()
    own = dict(zip(("val", "test"), raw, strict=True))
    network = {p: log_return_forecast(codec, likelihood, own[p], 1.0) for p in own}
    shrunk = {p: Part(log_return_forecast(codec, likelihood, own[p], calibration.shrink), pit) for p in own}
    combination = None
    if prices is not None:
        combination = choose_combination(
            prices, anchors, y["val"], fits, shrunk["val"], settings, codec.horizon
        )
    if combination is not None:
        base_pit = None if combination.pit is None else torch.from_numpy(combination.pit)
        calibration = replace(
            calibration,
            weight=combination.weight,
            baseline=combination.baseline_record(),
            baseline_pit=base_pit,
        )
    served = {p: served_parts(shrunk[p], combination, p) for p in own}
    known = {} if combination is None else {"val": combination.val_grid}
    comparison = compare(y, anchors, fits, network, served, rule, served_grid=known)
    comparison.metrics["served/weight"] = calibration.weight
    return comparison, calibration, served


@dataclass
class Assessment:
    """Calibrated forecasts of one fitted network: metrics, the validation choices, test predictions."""

    metrics: dict[str, float]
    calibration: Calibration
    test_pred: np.ndarray
    test_drift: np.ndarray
    test_lower: np.ndarray  # the `calibration.interval` band around test_pred
    test_upper: np.ndarray
    comparison: Comparison
    # The served distribution's test log-return quantiles `(n, horizon, len(GRID))`; None for a point network.
    test_quantiles: np.ndarray | None = None


def assess(
    cfg: DictConfig,
    codec: Codec,
    net: torch.nn.Module,
    parts: dict[str, WindowSet],
    prices: np.ndarray | None = None,
    n_train: int = 0,
    high_low: np.ndarray | None = None,
) -> Assessment:
    """Choose the shrink, the conformal residuals and the quantile recalibration on validation
    (`calibrate`), then score val and test; with the series' `prices` (and its training size `n_train`),
    also score the volatility baselines fitted on those training prices, and with each price's day's High
    and Low `high_low` `(n_prices, 2)` the range baselines too.

    Nothing about the test part feeds a choice: it is only scored.
    """
    val, test = parts["val"], parts["test"]
    likelihood: Likelihood = net.likelihood
    raw_val, raw_test = predict_normalized(net, val), predict_normalized(net, test)
    y_val, y_test = likelihood.location(raw_val), likelihood.location(raw_test)
    calibration, _ = calibrate(codec, likelihood, raw_val, val, cfg.calibration)
    shrink = calibration.shrink
    settings = cfg.get("baselines")
    fits = {} if prices is None else fitted_baselines(prices, n_train, codec.horizon, settings, high_low)
    comparison, calibration, served = compare_distributions(
        codec, likelihood, (raw_val, raw_test), parts, fits, calibration, cfg.calibration, prices
    )
    served = served or {"val": None, "test": None}
    level = float(cfg.calibration.interval)
    metrics = {
        **score_part(codec, y_val, val, calibration, level, "val", served["val"]),
        **score_part(codec, y_test, test, calibration, level, "test", served["test"]),
    }
    metrics.update(comparison.metrics)
    metrics["shrink"] = shrink
    if likelihood.has_distribution:
        metrics["recalibrated"] = float(calibration.pit is not None)
    # The network's own validation score before any shrink: a sweep still sees which trial learned most
    # when the guard sends every shrink to naive (and val/mae is then naive's for all of them).
    metrics.update({f"val/raw/{k}": v for k, v in raw_scores(codec, y_val, val.last, val.future).items()})
    test_pred = codec.decode(y_test, test.last, shrink).numpy()
    lower, upper = bounds(calibration, test_pred, test, level, served["test"])
    drift = codec.drift_forecast(test.last).numpy()
    grid = comparison.served_grid.get("test")  # None for a point network
    return Assessment(metrics, calibration, test_pred, drift, lower, upper, comparison, grid)


def assess_served(
    cfg: DictConfig,
    codec: Codec,
    parts: dict[str, WindowSet],
    prices: np.ndarray,
    n_train: int,
    calibration: Calibration,
    pred: dict[str, np.ndarray],
    served: dict[str, list[Part]],
    high_low: np.ndarray | None = None,
) -> Assessment:
    """Score forecasts made elsewhere as `assess` scores a network's: predicted prices `pred[p]`
    `(n, horizon)` and the served distribution's parts `served[p]` on validation and test, beside naive,
    drift (`codec`, fitted on training) and the volatility baselines fitted on the training `prices`
    (`n_train` of them; with `high_low`, the range ones too); `calibration` is what those forecasts were
    served with, chosen elsewhere."""
    test = parts["test"]
    fits = fitted_baselines(prices, n_train, codec.horizon, cfg.get("baselines"), high_low)
    y = {p: outcome(parts[p].last.numpy(), parts[p].future.numpy()) for p in ("val", "test")}
    anchors = {p: parts[p].anchors for p in ("val", "test")}
    comparison = compare(y, anchors, fits, None, served, rule_of(cfg.calibration))
    level = float(cfg.calibration.interval)
    metrics = {}
    for p in ("val", "test"):
        metrics.update(price_scores(codec, pred[p], parts[p], calibration, level, p, served[p]))
    metrics.update(comparison.metrics)
    metrics.update({"served/weight": calibration.weight, "shrink": calibration.shrink})
    metrics["recalibrated"] = float(calibration.pit is not None)
    lower, upper = bounds(calibration, pred["test"], test, level, served["test"])
    drift = codec.drift_forecast(test.last).numpy()
    grid = comparison.served_grid.get("test")
    return Assessment(metrics, calibration, pred["test"], drift, lower, upper, comparison, grid)
