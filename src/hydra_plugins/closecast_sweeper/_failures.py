"""A sweep's failures: a trial whose job raised, and the budget of them a sweep tolerates."""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

from ._repeats import is_repeat


class TrialFailed(RuntimeError):
    """A trial's job raised: the trial is FAIL and the sweep goes on (anything else stops the sweep)."""


class SweepAborted(RuntimeError):
    """More trials failed than the sweep's `max_failure_rate` allows."""


class FailureBudget:
    """Optuna callback: abort the sweep once more than `allowed` of its trials have failed."""

    def __init__(self, allowed: float, rate: float, n_trials: int, errors: dict[int, BaseException]) -> None:
        self.allowed, self.rate, self.n_trials, self.errors = allowed, rate, n_trials, errors
        self.failed: list[int] = []

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.state != TrialState.FAIL or is_repeat(trial):
            return  # a refused repeat (`_repeats`) never ran: no failure
        self.failed.append(trial.number)
        if len(self.failed) > self.allowed:
            error = self.errors.get(trial.number)
            raise SweepAborted(
                f"{len(self.failed)} trials failed, more than hydra.sweeper.max_failure_rate={self.rate} "
                f"of n_trials={self.n_trials}; last: trial {trial.number}: {error!r}. See the trials' "
                "run dirs, or raise the rate"
            ) from error
