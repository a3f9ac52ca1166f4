"""A run's hyperparameters and end-of-run scores as loggers show them (TensorBoard's HParams tab)."""

from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig, OmegaConf

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


def log_final_metrics(logger: Any, cfg: DictConfig, metrics: dict[str, float], step: int) -> None:
    """Log the end-of-run scores once, beside the run's hyperparameters (TensorBoard's HParams tab).

    The per-epoch scores (`EPOCH_METRICS`) already have their curves and are not logged again.
    """
    final = {k: v for k, v in metrics.items() if k not in EPOCH_METRICS and math.isfinite(v)}
    shown = {f"{p}/{m}" for p in ("val", "test") for m in HPARAM_METRICS} | {"shrink", "epochs"}
    logger.log_hyperparams(run_hparams(cfg), {k: v for k, v in final.items() if k in shown}, step=step)
    logger.log_metrics({k: v for k, v in final.items() if k not in shown}, step=step)
