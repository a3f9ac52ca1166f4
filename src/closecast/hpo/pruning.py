"""The Lightning callback that lets a sweep's trial report each epoch and stop when the pruner says so."""

from __future__ import annotations

import math
import os
import socket
from typing import Any

import optuna
import pytorch_lightning as pl

from closecast.hpo.storage import load_trial, open_storage


class TrialPruning(pl.Callback):
    """Report `monitor` after every validation epoch to Optuna trial `trial`; raise `TrialPruned` on cue.

    The sweeper passes the trial number through the job's config (`hpo.trial`); without one (a plain
    training run) the callback does nothing.
    """

    def __init__(
        self,
        storage: str | None = None,
        study_name: str | None = None,
        trial: int | None = None,
        monitor: str = "val/loss",
        pruner: optuna.pruners.BasePruner | None = None,
    ) -> None:
        super().__init__()
        self.storage_url = storage
        self.study_name = study_name
        self.trial_number = trial
        self.monitor = monitor
        self.pruner = pruner
        self.trial: optuna.trial.Trial | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.trial_number is None or self.trial is not None:
            return
        if not self.storage_url or not self.study_name:
            raise ValueError(
                f"trial {self.trial_number} needs hpo.storage and hpo.study_name to report to its study"
            )
        storage = open_storage(self.storage_url)
        trial = load_trial(storage, self.study_name, self.trial_number)
        # The storage does not keep the pruner: use the sweep's (None = never prune, not Optuna's default).
        trial.study.pruner = self.pruner or optuna.pruners.NopPruner()
        if trial.study._is_multi_objective():
            return  # Optuna cannot prune multi-objective studies; the trial just runs to the end.
        self.trial = trial
        # Where the trial ran: the study shows which process and machine each trial belonged to.
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.trial is None or trainer.sanity_checking or not trainer.is_global_zero:
            return
        value: Any = trainer.callback_metrics.get(self.monitor)
        if value is None:
            raise KeyError(
                f"pruning monitor {self.monitor!r} was not logged; logged: {sorted(trainer.callback_metrics)}"
            )
        value = float(value)
        epoch = trainer.current_epoch
        if math.isfinite(value):
            self.trial.report(value, step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"trial {self.trial.number} pruned after epoch {epoch}: {self.monitor}={value:.6g}"
            )
