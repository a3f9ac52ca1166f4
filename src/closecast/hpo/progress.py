"""One line per trial as a sweep goes (an Optuna callback): how far the study is, how the trial ended and
its values by name, `trial 13/20 (pruned at epoch 3, val/loss=0.687)`."""

from __future__ import annotations

import logging

import optuna
from optuna.trial import FrozenTrial, TrialState

from hydra_plugins.closecast_sweeper._repeats import is_repeat

log = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _values(names: list[str], values: list[float]) -> str:
    return ", ".join(f"{name}={value:.6g}" for name, value in zip(names, values, strict=False))


def trial_line(
    trial: FrozenTrial, finished: int, n_trials: int, names: list[str], monitor: str
) -> str | None:
    """The line of a trial that just ended, `finished` of the study's `n_trials` now done; `names` are the
    study's objectives, `monitor` what pruned trials report each epoch. None for a refused repeat, which
    never ran (`hydra_plugins.closecast_sweeper._repeats`)."""
    where = f"trial {finished}/{n_trials}"
    if trial.state == TrialState.COMPLETE:
        return f"{where} (finished, {_values(names, list(trial.values))})"
    if trial.state == TrialState.PRUNED:
        if not trial.intermediate_values:
            return f"{where} (pruned before its first epoch)"
        epoch = max(trial.intermediate_values)
        return f"{where} (pruned at epoch {epoch}, {monitor}={trial.intermediate_values[epoch]:.6g})"
    if trial.state == TrialState.FAIL and not is_repeat(trial):
        return f"trial {trial.number} failed, not counted ({finished}/{n_trials} finished): see its run dir"
    return None


class TrialProgress:
    """Optuna callback: log each ended trial's `trial_line`, numbered by the study's finished trials."""

    def __init__(self, n_trials: int, monitor: str = "val/loss") -> None:
        self.n_trials, self.monitor = n_trials, monitor

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        finished = len(study.get_trials(deepcopy=False, states=FINISHED))
        names = study.metric_names or [f"objective {i}" for i in range(len(study.directions))]
        line = trial_line(trial, finished, self.n_trials, names, self.monitor)
        if line:
            log.info(line)
