"""The training job: config in, metrics out. `train.py` at the root is only its Hydra entry."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from closecast.data import Batches, PriceDataModule
from closecast.evaluation import EPOCH_METRICS
from closecast.module import ForecastModule
from closecast.pooled import PooledDataModule
from closecast.publish import atomic_write, publish
from closecast.series_result import finish_series, print_series

# Lightning 2.6 builds torch's `LeafSpec`, which torch 2.13 marks deprecated: harmless, and nothing a user
# can act on (both versions are pinned), yet printed on every run.
warnings.filterwarnings(
    "ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning
)

log = logging.getLogger(__name__)

# Config `_target_`s may only name these packages: a config file cannot make training call arbitrary code.
TRUSTED_TARGETS = [
    "closecast.*",
    "torch.optim.*",
    "pytorch_lightning.*",
    "lightning.pytorch.*",
    "optuna.pruners.*",
]
# The run's hyperparameters, as TensorBoard's HParams tab shows them (`model/hidden`, `optimizer/lr`, …).
HPARAM_GROUPS = ("model", "data", "optimizer", "scheduler", "calibration")
HPARAM_TRAINER_KEYS = ("max_epochs", "gradient_clip_val", "accumulate_grad_batches", "precision")
# The final scores shown beside them: the model's, on validation and test, after calibration.
HPARAM_METRICS = ("mae", "rmse", "mape", "smape", "mase", "coverage", "crps", "skill", "nll", "coverage_90")


def build(conf: Any, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate` restricted to the trusted target packages."""
    return hydra.utils.instantiate(conf, _execution_whitelist_=TRUSTED_TARGETS, **kwargs)


def checkpoint_dir(cfg: DictConfig, output_dir: Path) -> Path:
    """Where the run's Lightning checkpoints go: its own `checkpoints/`, or, when it resumes, the folder of
    the checkpoint it resumes from, so that Lightning restores the best score so far with it and the best
    epoch is chosen across both parts of the run."""
    resume = cfg.get("ckpt_path")
    return Path(resume).resolve().parent if resume else output_dir / "checkpoints"


def build_callbacks(cfg: DictConfig, output_dir: Path) -> list[pl.Callback]:
    """Callbacks from `cfg.callbacks`; checkpoint callbacks write into `checkpoint_dir`."""
    callbacks = []
    for name, conf in (cfg.get("callbacks") or {}).items():
        if conf is None:
            continue
        if name == "progress_bar" and not cfg.trainer.get("enable_progress_bar", True):
            continue  # `trainer.enable_progress_bar=false` alone turns the bar off
        if str(conf.get("_target_", "")).endswith(".ModelCheckpoint"):
            callbacks.append(build(conf, dirpath=str(checkpoint_dir(cfg, output_dir))))
        else:
            callbacks.append(build(conf))
    return callbacks


def best_checkpoint(trainer: pl.Trainer) -> ModelCheckpoint | None:
    """The checkpoint callback that keeps the best epoch (the first one with a `monitor`)."""
    monitored = [c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.monitor]
    return monitored[0] if monitored else None


def build_module_and_trainer(
    cfg: DictConfig, datamodule: PriceDataModule, callbacks: list[pl.Callback], logger: Any
) -> tuple[ForecastModule, pl.Trainer]:
    """The LightningModule and Trainer of a run, both from `cfg` (clipping etc. are Trainer settings)."""
    likelihood = cfg.model.get("likelihood", "none")
    if likelihood != "none" and datamodule.codec.target != "return":
        raise ValueError(
            f"model.likelihood={likelihood} describes log returns and needs data.target=return "
            f"(got {datamodule.codec.target}); use model.likelihood=none with data.target=level"
        )
    trainer: pl.Trainer = build(cfg.trainer, callbacks=callbacks, logger=logger)
    # The module logs once per epoch, nothing per step; an interval longer than an epoch only draws
    # Lightning's warning that the epoch is shorter than it.
    train = datamodule.parts["train"]
    steps = len(Batches((train.x,), datamodule.batch_size, shuffle=False, world=trainer.world_size))
    trainer.log_every_n_steps = max(1, min(trainer.log_every_n_steps, steps))
    module = ForecastModule(
        net=build(cfg.model, input_size=datamodule.codec.n_features, horizon=datamodule.codec.horizon),
        optimizer=build(cfg.optimizer),
        scheduler=build(cfg.scheduler) if cfg.get("scheduler") else None,
        # Pooled series decode to prices by their own codecs: no per-epoch price scores of the mix.
        codec=None if isinstance(datamodule, PooledDataModule) else datamodule.codec,
    )
    return module, trainer


@dataclass
class Fitted:
    """A network fitted by `fit_network`, on the CPU, with the trainer and logger that fitted it."""

    net: torch.nn.Module
    trainer: pl.Trainer
    logger: Any
    best_path: str


def fit_network(
    cfg: DictConfig,
    datamodule: PriceDataModule,
    output_dir: Path,
    extra_callbacks: list[pl.Callback] | None = None,
) -> Fitted:
    """Build the network and module from `cfg`, fit on the datamodule's train part with early stopping on
    its validation part, and reload the best checkpoint. The test part is never read here."""
    callbacks = build_callbacks(cfg, output_dir) + list(extra_callbacks or [])
    logger = build(cfg.logger, save_dir=str(output_dir)) if cfg.get("logger") else False
    module, trainer = build_module_and_trainer(cfg, datamodule, callbacks, logger)
    if logger:
        logger.log_hyperparams(run_hparams(cfg))  # before fit, so the run's hparams.yaml holds them
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    ckpt = best_checkpoint(trainer)
    best = ckpt.best_model_path if ckpt else ""
    if best and trainer.is_global_zero:
        # Our own checkpoint from this run: a full load is fine here (the server never does this).
        state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
        module.load_state_dict(state)
    return Fitted(module.net.cpu(), trainer, logger, best or "")


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
    final = {k: v for k, v in final.items() if not k.startswith("naive/")}  # aliases of test/naive/*
    shown = {f"{p}/{m}" for p in ("val", "test") for m in HPARAM_METRICS} | {"shrink", "epochs"}
    logger.log_hyperparams(run_hparams(cfg), {k: v for k, v in final.items() if k in shown}, step=step)
    logger.log_metrics({k: v for k, v in final.items() if k not in shown}, step=step)


def metrics_json(metrics: dict[str, float]) -> str:
    """`metrics` as strict JSON: a non-finite number (a MASE over a flat series, say) becomes null."""
    clean = {k: (float(v) if math.isfinite(v) else None) for k, v in metrics.items()}
    return json.dumps(clean, indent=2, allow_nan=False)


@contextlib.contextmanager
def torch_threads(count: int | None):
    """Run with `count` torch intra-op threads (None: leave torch's default), restoring it afterwards."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train(cfg: DictConfig, extra_callbacks: list[pl.Callback] | None = None) -> dict[str, float]:
    """Fit, score the best checkpoint, write metrics.json and the serving artifact; return metrics.

    With `data.tickers`, one network on several series, each scored on its own (`closecast.pooled_training`).
    """
    with torch_threads(cfg.get("threads")):
        if cfg.data.get("tickers") is not None:
            from closecast.pooled_training import train_pooled  # it builds on this module

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
