"""Scoring a fitted network: calibrate it on validation, then score validation and test in prices beside
the naive and drift baselines, and its predictive distribution beside the volatility baselines
(`closecast.evaluation.distribution_scores`). These are the final scores of a run (`metrics.json`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import DictConfig

from closecast.data.codec import Codec
from closecast.data.windows import WindowSet
from closecast.distributions.conformal import interval_bounds
from closecast.distributions.likelihood import location
from closecast.distributions.predictive import (
    LogReturnForecast,
    log_return_forecast,
    log_return_quantiles,
    sorted_pit,
)
from closecast.evaluation.calibration import calibrate
from closecast.evaluation.distribution_scores import baseline_forecasts, outcome, part_scores
from closecast.evaluation.point import interval_coverage, score_forecasts

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


@dataclass
class Served:
    """What the artifact serves besides the point forecast: conformal residuals (for a point network) or
    the predictive distribution and its PIT recalibration (for a likelihood head)."""

    residuals: np.ndarray
    pit: np.ndarray | None = None

    def bounds(
        self, codec: Codec, pred: np.ndarray, part: WindowSet, level: float, fc: LogReturnForecast | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper prices `(n, horizon)` of the central `level` interval."""
        if fc is None:
            return interval_bounds(codec, pred, part, self.residuals, level)
        q = log_return_quantiles(fc, self.pit, [(1 - level) / 2, (1 + level) / 2])
        last = part.last.numpy()[:, None]
        return last * np.exp(q[..., 0]), last * np.exp(q[..., 1])


def score_part(
    codec: Codec,
    y_hat: torch.Tensor,
    part: WindowSet,
    served: Served,
    level: float,
    prefix: str,
    fc: LogReturnForecast | None = None,
) -> dict[str, float]:
    """Model, naive and drift scores on one part, plus the coverage of the `level` interval."""
    pred = codec.decode(y_hat, part.last).numpy()
    future = part.future.numpy()
    report = score_forecasts(
        {"model": pred, "drift": codec.drift_forecast(part.last).numpy()}, future, part.last.numpy()
    )
    flat: dict[str, float] = {}
    for method, scores in report.items():
        head = prefix if method == "model" else f"{prefix}/{method}"
        flat.update({f"{head}/{k}": v for k, v in scores.items()})
    lower, upper = served.bounds(codec, pred, part, level, fc)
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


@dataclass
class Assessment:
    """Calibrated forecasts of one fitted network: metrics, conformal residuals, test predictions."""

    metrics: dict[str, float]
    residuals: np.ndarray
    pit: np.ndarray | None  # sorted validation PIT values `(n, horizon)`, for a likelihood head
    test_pred: np.ndarray
    test_drift: np.ndarray
    test_lower: np.ndarray  # the `calibration.interval` band around test_pred
    test_upper: np.ndarray


def assess(
    cfg: DictConfig,
    codec: Codec,
    net: torch.nn.Module,
    parts: dict[str, WindowSet],
    prices: np.ndarray | None = None,
    n_train: int = 0,
) -> Assessment:
    """Choose the shrink, the conformal residuals and the quantile recalibration on validation, then
    score val and test; with the series' `prices` (and its training size `n_train`), also score the
    volatility baselines fitted on those training prices.

    Sets `codec.shrink`. Nothing about the test part feeds a choice: it is only scored.
    """
    val, test = parts["val"], parts["test"]
    likelihood = str(getattr(net, "likelihood", "none"))
    raw_val, raw_test = predict_normalized(net, val), predict_normalized(net, test)
    y_val, y_test = location(raw_val, likelihood), location(raw_test, likelihood)
    residuals = calibrate(codec, y_val, val, cfg.calibration)
    fcs: dict[str, LogReturnForecast | None] = {"val": None, "test": None}
    served = Served(residuals)
    if likelihood != "none":
        fcs = {
            name: log_return_forecast(codec, raw, likelihood)
            for name, raw in (("val", raw_val), ("test", raw_test))
        }
        served.pit = sorted_pit(fcs["val"], outcome(val.last.numpy(), val.future.numpy()))
    level = float(cfg.calibration.interval)
    metrics = {
        **score_part(codec, y_val, val, served, level, "val", fcs["val"]),
        **score_part(codec, y_test, test, served, level, "test", fcs["test"]),
    }
    sigmas = baseline_forecasts(prices, n_train, codec.horizon) if prices is not None else {}
    for name, part in (("val", val), ("test", test)):
        if sigmas or fcs[name] is not None:
            y = outcome(part.last.numpy(), part.future.numpy())
            metrics.update(part_scores(y, part.anchors, sigmas, name, fcs[name], served.pit))
    metrics["shrink"] = codec.shrink
    # The network's own validation score before any shrink: a sweep still sees which trial learned most
    # when the guard sends every shrink to naive (and val/mae is then naive's for all of them).
    metrics.update({f"val/raw/{k}": v for k, v in raw_scores(codec, y_val, val.last, val.future).items()})
    test_pred = codec.decode(y_test, test.last).numpy()
    lower, upper = served.bounds(codec, test_pred, test, level, fcs["test"])
    drift = codec.drift_forecast(test.last).numpy()
    return Assessment(metrics, residuals, served.pit, test_pred, drift, lower, upper)
