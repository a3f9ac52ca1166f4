"""A run's hyperparameters and end-of-run scores as loggers show them: TensorBoard's HParams tab, one row
per run (a pruned trial too), and the end-of-run values of the other loggers (CSV, MLflow)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.tensorboard.summary import hparams as hparams_summaries

from closecast.evaluation.assessment import EPOCH_METRICS

# The run's hyperparameters, as TensorBoard's HParams tab shows them (`model/hidden`, `optimizer/lr`, …).
HPARAM_GROUPS = ("model", "data", "optimizer", "scheduler", "calibration")


HPARAM_TRAINER_KEYS = ("max_epochs", "gradient_clip_val", "accumulate_grad_batches", "precision")


# The final scores shown beside them: the model's, on validation and test, after calibration.
HPARAM_METRICS = ("mae", "rmse", "mape", "smape", "mase", "coverage", "crps", "skill", "nll", "coverage_90")


def run_hparams(cfg: DictConfig) -> dict[str, Any]:
    """The hyperparameters of a run, nested by config group (loggers flatten them to `model/hidden`)."""
    params = {g: OmegaConf.to_container(cfg[g], resolve=True) if cfg.get(g) else None for g in HPARAM_GROUPS}
    for group in params.values():
        if isinstance(group, dict):
            group.pop("_partial_", None)
    params["trainer"] = {k: cfg.trainer[k] for k in HPARAM_TRAINER_KEYS if k in cfg.trainer}
    params["seed"] = cfg.get("seed")
    return params


def hparam_metric_names(cfg: DictConfig, parts: tuple[str, ...]) -> list[str]:
    """The metrics of every run's HParams row, the same for every run of a config (TensorBoard takes the
    columns from one run): the final scores on `parts`, the sweep's objective(s), and the per-epoch
    validation curves, whose row value is their last point (a pruned trial's when it stopped)."""
    optimized = cfg.get("optimized_metric")
    objectives = [optimized] if isinstance(optimized, str) else list(optimized or [])
    names = [f"{p}/{m}" for p in parts for m in HPARAM_METRICS] + ["shrink", "epochs"]
    names += objectives + [m for m in EPOCH_METRICS if m.startswith("val/")]
    return list(dict.fromkeys(names))


def _flat(params: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """`model/hidden`-style keys; values TensorBoard takes (numbers, strings, booleans), else their text."""
    for key, value in params.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}/")
        else:
            yield f"{prefix}{key}", value if isinstance(value, (bool, int, float, str)) else str(value)


def log_final_metrics(
    logger: Any,
    cfg: DictConfig,
    metrics: dict[str, float],
    step: int,
    parts: tuple[str, ...] = ("val", "test"),
) -> None:
    """Log the end-of-run scores once: in TensorBoard, the run's HParams row (its hyperparameters, those
    scores, the objectives); other loggers get the same scores as values at `step`.

    The per-epoch scores (`EPOCH_METRICS`) already have their curves and are not logged again; the rest of
    `metrics` (every baseline's every score) is in the run's metrics.json only.
    """
    names = hparam_metric_names(cfg, parts)
    final = {
        k: float(metrics[k])
        for k in names
        if k in metrics and k not in EPOCH_METRICS and math.isfinite(float(metrics[k]))
    }
    if not isinstance(logger, TensorBoardLogger):
        logger.log_metrics(final, step=step)
        logger.save()  # after the fit, whose end wrote the logger's files (the CSV logger's metrics.csv)
        return
    # Lightning's `log_hyperparams(params, metrics)` lists only the metrics it is given a value for, and
    # would log a second point on the curves of the objectives: the same summaries, listing every name.
    writer = logger.experiment
    for name, value in final.items():
        writer.add_scalar(name, value, global_step=step)
    for summary in hparams_summaries(dict(_flat(run_hparams(cfg))), dict.fromkeys(names, 0.0)):
        writer.file_writer.add_summary(summary, step)
    writer.flush()
