"""Scoring a fitted network: calibrate it on validation, then score validation and test in prices beside
the naive and drift baselines. These are the final scores of a run (`metrics.json`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import DictConfig

from closecast.calibration import calibrate, interval_bounds
from closecast.codec import Codec
from closecast.data import WindowSet
from closecast.metrics import interval_coverage, score_forecasts

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


def score_part(
    codec: Codec, y_hat: torch.Tensor, part: WindowSet, residuals: np.ndarray, level: float, prefix: str
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
    lower, upper = interval_bounds(codec, pred, part, residuals, level)
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
    test_pred: np.ndarray
    test_drift: np.ndarray
    test_lower: np.ndarray  # the `calibration.interval` band around test_pred
    test_upper: np.ndarray


def assess(cfg: DictConfig, codec: Codec, net: torch.nn.Module, parts: dict[str, WindowSet]) -> Assessment:
    """Choose the shrink and the conformal residuals on validation, then score val and test.

    Sets `codec.shrink`. Nothing about the test part feeds a choice: it is only scored.
    """
    val, test = parts["val"], parts["test"]
    y_val, y_test = predict_normalized(net, val), predict_normalized(net, test)
    residuals = calibrate(codec, y_val, val, cfg.calibration)
    level = float(cfg.calibration.interval)
    metrics = {
        **score_part(codec, y_val, val, residuals, level, "val"),
        **score_part(codec, y_test, test, residuals, level, "test"),
    }
    metrics["shrink"] = codec.shrink
    # The network's own validation score before any shrink: a sweep still sees which trial learned most
    # when the guard sends every shrink to naive (and val/mae is then naive's for all of them).
    metrics.update({f"val/raw/{k}": v for k, v in raw_scores(codec, y_val, val.last, val.future).items()})
    test_pred = codec.decode(y_test, test.last).numpy()
    lower, upper = interval_bounds(codec, test_pred, test, residuals, level)
    return Assessment(metrics, residuals, test_pred, codec.drift_forecast(test.last).numpy(), lower, upper)


def summary_table(metrics: dict[str, float]) -> str:
    """The end-of-run comparison: model beside the baselines on the test part."""
    rows = [("model", "test"), ("naive", "test/naive"), ("drift", "test/drift")]
    lines = [f"{'test':<8}{'MAE':>10}{'RMSE':>10}{'MAPE %':>10}{'MASE':>8}"]
    for label, key in rows:
        m = [metrics.get(f"{key}/{k}", math.nan) for k in ("mae", "rmse", "mape", "mase")]
        lines.append(f"{label:<8}{m[0]:>10.4f}{m[1]:>10.4f}{m[2]:>10.4f}{m[3]:>8.3f}")
    return "\n".join(lines)
