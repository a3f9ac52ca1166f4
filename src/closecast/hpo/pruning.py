"""The Lightning callback that lets a sweep's trial report each epoch and stop when the pruner says so."""

from __future__ import annotations

import logging
import math
import os
import socket
from typing import Any

import optuna
import pytorch_lightning as pl

from closecast.hpo.storage import load_trial, open_storage

log = logging.getLogger(__name__)


class TrialPruning(pl.Callback):
    """Report `monitor` after every validation epoch to Optuna trial `trial`; raise `TrialPruned` on cue.

    The sweeper passes the trial number through the job's config (`hpo.trial`); without one (a plain
    training run) the callback does nothing. Under DDP, rank 0 reports and asks the pruner, and every rank
    gets its answer, so all ranks stop at the same epoch instead of the others waiting on rank 0.
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
        if len(trial.study.directions) > 1:
            return  # Optuna cannot prune multi-objective studies; the trial just runs to the end.
        self.trial = trial
        if trainer.is_global_zero:
            # Where the trial ran: the study shows which process and machine each trial belonged to.
            trial.set_user_attr("host", socket.gethostname())
            trial.set_user_attr("pid", os.getpid())

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.trial is None or trainer.sanity_checking:
            return
        epoch = trainer.current_epoch
        reason = self._ask_pruner(trainer, epoch) if trainer.is_global_zero else None
        reason = trainer.strategy.broadcast(reason, src=0)
        if reason is None:
            return
        log.info("rank %d stops: %s", trainer.global_rank, reason)
        trainer.strategy.barrier("trial_pruned")  # every rank has seen the decision before any one raises
        raise optuna.TrialPruned(reason)

    def _ask_pruner(self, trainer: pl.Trainer, epoch: int) -> str | None:
        """Report this epoch's value; why the trial is pruned, or None to go on (rank 0 only)."""
        assert self.trial is not None
        value: Any = trainer.callback_metrics.get(self.monitor)
        if value is None:
            raise KeyError(
                f"pruning monitor {self.monitor!r} was not logged; logged: {sorted(trainer.callback_metrics)}"
            )
        value = float(value)
        if math.isfinite(value):
            self.trial.report(value, step=epoch)
        if not self.trial.should_prune():
            return None
        return f"trial {self.trial.number} pruned after epoch {epoch}: {self.monitor}={value:.6g}"
