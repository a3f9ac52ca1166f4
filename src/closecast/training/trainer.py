"""The Trainer, callbacks, logger, network and LightningModule of a run, all built from config, and the
fit that returns the best epoch's network."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import optuna
import pytorch_lightning as pl
import torch
from omegaconf import DictConfig
from pytorch_lightning.callbacks import ModelCheckpoint

import closecast.training.warning_filters  # noqa: F401
from closecast.data.batches import Batches
from closecast.data.datamodule import PriceDataModule
from closecast.distributions.likelihood import likelihood_of
from closecast.evaluation.assessment import raw_scores
from closecast.evaluation.baseline_cache import fitted_vol
from closecast.models.module import ForecastModule
from closecast.training.hparams import log_final_metrics, run_hparams
from closecast.training.resume import ConfigStamp, prepare_resume
from closecast.training.targets import build

log = logging.getLogger(__name__)


def build_callbacks(cfg: DictConfig, output_dir: Path) -> list[pl.Callback]:
    """Callbacks from `cfg.callbacks`; checkpoint callbacks write into the run's own `checkpoints/` (a
    resume too: `closecast.training.resume`), each checkpoint stamped with the run's config."""
    callbacks: list[pl.Callback] = [ConfigStamp(cfg)]
    for name, conf in (cfg.get("callbacks") or {}).items():
        if conf is None:
            continue
        if name == "progress_bar" and not cfg.trainer.get("enable_progress_bar", True):
            continue  # `trainer.enable_progress_bar=false` alone turns the bar off
        if str(conf.get("_target_", "")).endswith(".ModelCheckpoint"):
            callbacks.append(build(conf, dirpath=str(output_dir / "checkpoints")))
        else:
            callbacks.append(build(conf))
    return callbacks


def build_logger(cfg: DictConfig, output_dir: Path) -> Any:
    """The run's logger from `cfg.logger` (False for `logger=null`), writing into the run dir; a `run_name`
    left null (MLflow's) is the run dir's name, so each tool names the run alike."""
    if not cfg.get("logger"):
        return False
    named = {"run_name": output_dir.name} if "run_name" in cfg.logger and cfg.logger.run_name is None else {}
    return build(cfg.logger, save_dir=str(output_dir), **named)


def best_checkpoint(trainer: pl.Trainer) -> ModelCheckpoint | None:
    """The checkpoint callback that keeps the best epoch (the first one with a `monitor`)."""
    monitored = [c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.monitor]
    return monitored[0] if monitored else None


def fit_metrics(trainer: pl.Trainer) -> dict[str, float]:
    """The run's own numbers from fitting: epochs, and the kept epoch's validation loss (what a sweep
    optimizes and what every trial reports per epoch)."""
    metrics = {"epochs": float(trainer.current_epoch)}
    ckpt = best_checkpoint(trainer)
    if ckpt is not None and ckpt.best_model_score is not None:
        metrics[ckpt.monitor] = float(ckpt.best_model_score)
    elif trainer.fast_dev_run and "val/loss" in trainer.callback_metrics:
        # A smoke run keeps no checkpoint: its one validation pass is the only one there is.
        metrics["val/loss"] = float(trainer.callback_metrics["val/loss"])
    return metrics


def build_module_and_trainer(
    cfg: DictConfig, datamodule: PriceDataModule, callbacks: list[pl.Callback], logger: Any
) -> tuple[ForecastModule, pl.Trainer]:
    """The LightningModule and Trainer of a run, both from `cfg` (clipping etc. are Trainer settings)."""
    likelihood = likelihood_of(cfg.model.get("likelihood", "none"))
    if likelihood.has_distribution and datamodule.codec.target != "return":
        raise ValueError(
            f"model.likelihood={likelihood.name} describes log returns and needs data.target=return "
            f"(got {datamodule.codec.target}); use model.likelihood=none with data.target=level"
        )
    trainer: pl.Trainer = build(cfg.trainer, callbacks=callbacks, logger=logger)
    # The module logs once per epoch, nothing per step; an interval longer than an epoch only draws
    # Lightning's warning that the epoch is shorter than it.
    train = datamodule.parts["train"]
    steps = len(Batches((train.x,), datamodule.batch_size, shuffle=False, world=trainer.world_size))
    trainer.log_every_n_steps = max(1, min(trainer.log_every_n_steps, steps))
    codec = datamodule.codec
    net = build(cfg.model, input_size=codec.n_features, horizon=codec.horizon, likelihood=likelihood)
    module = ForecastModule(
        net=net,
        likelihood=likelihood,
        optimizer=build(cfg.optimizer),
        scheduler=build(cfg.scheduler) if cfg.get("scheduler") else None,
        # Several series decode to prices by their own codecs: no per-epoch price scores of the mix.
        raw_scores=None if datamodule.price_codec is None else partial(raw_scores, datamodule.price_codec),
    )
    return module, trainer


def build_data(cfg: DictConfig, **kwargs: Any) -> PriceDataModule:
    """The datamodule of `cfg.data` (with `kwargs` over it), its `baseline_vol` model fitted as the run's
    scored baselines are (`fitted_vol`, one fit and one cache for both)."""
    vol_fit = partial(fitted_vol, horizon=int(cfg.data.horizon), settings=cfg.get("baselines"))
    return build(cfg.data, vol_fit=vol_fit, **kwargs)


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
    resume = prepare_resume(cfg, output_dir)
    callbacks = build_callbacks(cfg, output_dir) + list(extra_callbacks or [])
    logger = build_logger(cfg, output_dir)
    module, trainer = build_module_and_trainer(cfg, datamodule, callbacks, logger)
    if logger:
        logger.log_hyperparams(run_hparams(cfg))  # before fit, so the run's hparams.yaml holds them
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
    except optuna.TrialPruned:
        # A pruned trial still gets its HParams row, with its kept epoch's val/loss, as a finished one.
        if logger and trainer.is_global_zero:
            kept = {**fit_metrics(trainer), "epochs": float(trainer.current_epoch + 1)}
            log_final_metrics(logger, cfg, kept, trainer.global_step, parts=("val",))
        raise
    ckpt = best_checkpoint(trainer)
    best = ckpt.best_model_path if ckpt else ""
    if best and trainer.is_global_zero:
        # Our own checkpoint from this run: a full load is fine here (the server never does this).
        state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
        module.load_state_dict(state)
    return Fitted(module.net.cpu(), trainer, logger, best or "")


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
