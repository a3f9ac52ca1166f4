"""The training job: config in, metrics out. `train.py` at the root is only its Hydra entry."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig

from closecast.artifacts.publish import atomic_write, publish
from closecast.data.datamodule import PriceDataModule
from closecast.training.hparams import log_final_metrics
from closecast.training.series import finish_series, print_series
from closecast.training.trainer import Fitted, best_checkpoint, build, fit_network, torch_threads

log = logging.getLogger(__name__)


def metrics_json(metrics: dict[str, float]) -> str:
    """`metrics` as strict JSON: a non-finite number (a MASE over a flat series, say) becomes null."""
    clean = {k: (float(v) if math.isfinite(v) else None) for k, v in metrics.items()}
    return json.dumps(clean, indent=2, allow_nan=False)


def train(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None = None) -> dict[str, float]:
    """Fit, score the best checkpoint, write metrics.json and the serving artifact; return metrics.

    With `data.tickers`, one network on several series, each scored on its own (`closecast.training.pooled`).
    """
    with torch_threads(cfg.get("threads")):
        if cfg.data.get("tickers") is not None:
            from closecast.training.pooled import train_pooled  # it builds on this module

            return train_pooled(cfg, extra_callbacks)
        return _train(cfg, extra_callbacks)


def fit_metrics(trainer: pl.Trainer) -> dict[str, float]:
    """The run's own numbers from fitting: epochs, and the kept epoch's validation loss (what a sweep
    optimizes and what every trial reports per epoch)."""
    metrics = {"epochs": float(trainer.current_epoch)}
    ckpt = best_checkpoint(trainer)
    if ckpt is not None and ckpt.best_model_score is not None:
        metrics[ckpt.monitor] = float(ckpt.best_model_score)
    return metrics


def publish_run(cfg: DictConfig, trainer: pl.Trainer, artifact_path: Path) -> Path | None:
    """Copy the run's artifact to `paths.checkpoints_dir/publish_name` unless told not to."""
    # A smoke run (`+trainer.fast_dev_run=true`) trains on a batch or two: never a model to serve.
    if cfg.get("publish", True) and not trainer.fast_dev_run:
        return publish(artifact_path, cfg.paths.checkpoints_dir, cfg.get("publish_name", "best.pt"))
    return None


def fit_run(
    cfg: DictConfig, extra_callbacks: list[pl.Callback] | None, **data_kwargs: Any
) -> tuple[Path, PriceDataModule, Fitted]:
    """The run dir, the datamodule built from `cfg.data` (with `data_kwargs`) and set up, and the network
    fitted on it, seeded by `cfg.seed`."""
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True)
    datamodule: PriceDataModule = build(cfg.data, **data_kwargs)
    datamodule.prepare_data()
    datamodule.setup("fit")
    return output_dir, datamodule, fit_network(cfg, datamodule, output_dir, extra_callbacks)


def _train(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None) -> dict[str, float]:
    output_dir, datamodule, fitted = fit_run(cfg, extra_callbacks)
    trainer, logger = fitted.trainer, fitted.logger
    if not trainer.is_global_zero:
        return {}

    tensorboard = logger.experiment if logger else None
    series = finish_series(
        cfg,
        datamodule,
        fitted.net,
        output_dir,
        fit_metrics(trainer),
        tensorboard=tensorboard,
        step=trainer.global_step,
    )
    metrics = series.metrics
    if logger:
        log_final_metrics(logger, cfg, metrics, trainer.global_step)
    atomic_write(output_dir / "metrics.json", lambda tmp: Path(tmp).write_text(metrics_json(metrics)))
    published = publish_run(cfg, trainer, series.artifact)

    log.info("best checkpoint: %s", fitted.best_path or "(none)")
    print_series(cfg, series, datamodule.codec)
    plots = ", ".join(str(p) for p in series.plots)
    print(
        f"run dir:  {output_dir}\nartifact: {series.artifact}\nplots:    {plots}"
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
