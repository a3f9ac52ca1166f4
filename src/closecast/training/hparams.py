"""A run's hyperparameters and end-of-run scores as loggers show them: TensorBoard's HParams tab, one row
per run (a pruned trial too), and the end-of-run values of the other loggers (CSV, MLflow).

The row's per-epoch validation columns (`val/loss`, `val/raw/*`) show the kept epoch's values, the best
checkpointed epoch that metrics.json and a sweep's objective hold, not the curves' last points: they are
written once into the run's `kept/` folder (its own run in TensorBoard's list) and the row reads them
there, so the curves keep one point per epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import TensorBoardLogger
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import plugin_data_pb2
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summaries

from closecast.evaluation.assessment import EPOCH_METRICS

# The run's hyperparameters, as TensorBoard's HParams tab shows them (`model/hidden`, `optimizer/lr`, …).
HPARAM_GROUPS = ("model", "data", "optimizer", "scheduler", "calibration")


HPARAM_TRAINER_KEYS = ("max_epochs", "gradient_clip_val", "accumulate_grad_batches", "precision")


# The final scores shown beside them: the model's, on validation and test, after calibration.
HPARAM_METRICS = ("mae", "rmse", "mape", "smape", "mase", "coverage", "crps", "skill", "nll", "coverage_90")

# The run dir's subfolder (TensorBoard's metric group) holding the kept epoch's values of the curves.
KEPT_GROUP = "kept"


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
    validation curves, whose row value is the kept epoch's (`KEPT_GROUP`)."""
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

    The per-epoch scores (`EPOCH_METRICS`) already have their curves and get no second point on them: their
    kept epoch's values in `metrics` go to `KEPT_GROUP`, where the row reads them; the rest of
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
    kept = {k: float(v) for k in names if k in EPOCH_METRICS and math.isfinite(v := metrics.get(k, math.nan))}
    with SummaryWriter(str(Path(writer.log_dir) / KEPT_GROUP)) as kept_writer:
        for name, value in kept.items():
            kept_writer.add_scalar(name, value, global_step=step)
    experiment, *session = hparams_summaries(dict(_flat(run_hparams(cfg))), dict.fromkeys(names, 0.0))
    for summary in (_kept_columns(experiment), *session):
        writer.file_writer.add_summary(summary, step)
    writer.flush()


def _kept_columns(experiment: Summary) -> Summary:
    """The HParams experiment summary with its per-epoch columns read from `KEPT_GROUP`."""
    value = experiment.value[0]
    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
    for info in data.experiment.metric_infos:
        if info.name.tag in EPOCH_METRICS:
            info.name.group = KEPT_GROUP
    value.metadata.plugin_data.content = data.SerializeToString()
    return experiment
