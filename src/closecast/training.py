"""The training job: config in, metrics out. `train.py` at the root is only its Hydra entry."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from closecast.artifact import atomic_write, build_artifact, publish, save_artifact
from closecast.codec import Codec
from closecast.data import PriceDataModule, WindowSet
from closecast.metrics import conformal_quantile, interval_coverage, score_forecasts
from closecast.module import ForecastModule

log = logging.getLogger(__name__)

SHRINK_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


def build_callbacks(cfg: DictConfig, output_dir: Path) -> list[pl.Callback]:
    """Callbacks from `cfg.callbacks`; the checkpoint folder is pinned to the run dir."""
    callbacks = []
    for name, conf in (cfg.get("callbacks") or {}).items():
        if conf is None:
            continue
        if name == "model_checkpoint":
            callbacks.append(hydra.utils.instantiate(conf, dirpath=str(output_dir / "checkpoints")))
        else:
            callbacks.append(hydra.utils.instantiate(conf))
    return callbacks


@torch.inference_mode()
def predict_normalized(net: torch.nn.Module, part: WindowSet, batch_size: int = 4096) -> torch.Tensor:
    """Network outputs for every sample of a part, on the CPU."""
    net.eval()
    device = next(net.parameters()).device
    outs = [net(part.x[i : i + batch_size].to(device)).cpu() for i in range(0, len(part), batch_size)]
    return torch.cat(outs)


def choose_shrink(codec: Codec, y_hat: torch.Tensor, part: WindowSet, setting: Any) -> float:
    """`auto`: the factor in [0, 1] with the lowest validation MAE (0 is naive); else the number given."""
    if setting != "auto":
        value = float(setting)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"calibration.shrink must be 'auto' or in [0, 1], got {setting!r}")
        return value
    future = part.future.numpy()
    maes = [
        float(np.mean(np.abs(codec.decode(y_hat, part.last, shrink=s).numpy() - future))) for s in SHRINK_GRID
    ]
    return float(SHRINK_GRID[int(np.argmin(maes))])


def log_residuals(pred: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Sorted absolute log residuals per horizon step (the conformal calibration set)."""
    return np.sort(np.abs(np.log(actual / pred)), axis=0)


def evaluate(
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
    radius = conformal_quantile(residuals, level)
    lower, upper = pred * np.exp(-radius), pred * np.exp(radius)
    flat[f"{prefix}/coverage"] = interval_coverage(future, lower, upper)
    return flat


def summary_table(metrics: dict[str, float]) -> str:
    """The end-of-run comparison: model beside the baselines on the test part."""
    rows = [("model", "test"), ("naive", "test/naive"), ("drift", "test/drift")]
    lines = [f"{'test':<8}{'MAE':>10}{'RMSE':>10}{'MAPE %':>10}{'MASE':>8}"]
    for label, key in rows:
        m = [metrics.get(f"{key}/{k}", math.nan) for k in ("mae", "rmse", "mape", "mase")]
        lines.append(f"{label:<8}{m[0]:>10.4f}{m[1]:>10.4f}{m[2]:>10.4f}{m[3]:>8.3f}")
    return "\n".join(lines)


def train(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None = None) -> dict[str, float]:
    """Fit, test on the best checkpoint, write metrics.json and the serving artifact; return metrics."""
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True)

    datamodule: PriceDataModule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    codec = datamodule.codec
    net = hydra.utils.instantiate(cfg.model, input_size=1, horizon=codec.horizon)
    module = ForecastModule(
        net=net,
        optimizer=hydra.utils.instantiate(cfg.optimizer),
        scheduler=hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        codec=codec,
    )

    callbacks = build_callbacks(cfg, output_dir) + list(extra_callbacks or [])
    logger = hydra.utils.instantiate(cfg.logger, save_dir=str(output_dir)) if cfg.get("logger") else False
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=logger)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))

    if not trainer.is_global_zero:
        return {}
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if best:
        # Our own checkpoint from this run: a full load is fine here (the server never does this).
        state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
        module.load_state_dict(state)
    net = module.net.cpu()

    val, test = datamodule.parts["val"], datamodule.parts["test"]
    y_val, y_test = predict_normalized(net, val), predict_normalized(net, test)
    codec.shrink = choose_shrink(codec, y_val, val, cfg.calibration.shrink)
    residuals = log_residuals(codec.decode(y_val, val.last).numpy(), val.future.numpy())
    level = float(cfg.calibration.interval)
    metrics = {
        **evaluate(codec, y_val, val, residuals, level, "val"),
        **evaluate(codec, y_test, test, residuals, level, "test"),
    }
    # The reference's top-level naive keys (test part), kept for scripts that read them.
    metrics.update({f"naive/{k}": metrics[f"test/naive/{k}"] for k in ("mae", "rmse", "mape", "smape")})
    metrics["shrink"] = codec.shrink
    metrics["epochs"] = float(trainer.current_epoch)
    if logger:
        logger.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)}, step=trainer.global_step)
    # The best epoch's monitored value (val/loss), the quantity a sweep reports per epoch and prunes on;
    # added after logging so TensorBoard's val/loss curve keeps one point per epoch.
    ckpt = trainer.checkpoint_callback
    if ckpt is not None and ckpt.monitor and ckpt.best_model_score is not None:
        metrics[ckpt.monitor] = float(ckpt.best_model_score)

    data_meta = datamodule.describe()
    atomic_write(output_dir / "metrics.json", lambda tmp: Path(tmp).write_text(json.dumps(metrics, indent=2)))
    artifact = build_artifact(
        net,
        codec,
        data_meta,
        metrics,
        residuals,
        extra={"run_dir": str(output_dir), "config": OmegaConf.to_container(cfg, resolve=True)},
    )
    artifact_path = save_artifact(artifact, output_dir / "model.pt")
    published = None
    if cfg.get("publish", True):
        published = publish(artifact_path, cfg.paths.checkpoints_dir, cfg.get("publish_name", "best.pt"))

    log.info("best checkpoint: %s", best or "(none)")
    print(
        f"\n{data_meta['ticker']} {data_meta['feature']} {data_meta['start']}..{data_meta['end']}, "
        f"target={codec.target}, shrink={codec.shrink}, window={codec.window}, horizon={codec.horizon}"
    )
    print(summary_table(metrics))
    print(
        f"90% interval coverage on test: {metrics['test/coverage']:.3f}"
        if level == 0.9
        else f"{level:.0%} interval coverage on test: {metrics['test/coverage']:.3f}"
    )
    print(
        f"run dir:  {output_dir}\nartifact: {artifact_path}"
        + (f"\npublished: {published}" if published else "")
    )
    return metrics


def objective(metrics: dict[str, float], optimized: Any) -> float | tuple[float, ...] | None:
    """The value(s) a sweep optimizes; a name missing from the metrics fails loudly."""
    if not optimized or not metrics:  # non-zero DDP ranks return no metrics
        return None
    names = [optimized] if isinstance(optimized, str) else list(optimized)
    missing = [n for n in names if n not in metrics]
    if missing:
        raise KeyError(f"optimized_metric {missing} not in metrics; available: {sorted(metrics)}")
    values = tuple(float(metrics[n]) for n in names)
    return values[0] if isinstance(optimized, str) else values
