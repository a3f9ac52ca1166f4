"""No parameter set runs twice in a study, whatever the sampler.

NSGA-II's crossover and mutation on a space of a few choices give a child equal to an earlier trial, and
any sampler can draw a set it drew before once most of a small space is taken. Such a trial is not run:
it ends FAIL with `repeats` (the earlier trial's number) in its user attributes, so no sampler learns from
it, it counts neither toward `n_trials` nor against the failure budget, and the sampler draws again. A
sampler that keeps drawing only earlier sets has nothing new left to try: the sweep stops, saying so."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import optuna
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)

# Draws in a row that repeat earlier trials before the search space counts as used up.
REPEAT_LIMIT = 50
TAKEN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


def is_repeat(trial: FrozenTrial) -> bool:
    """Whether `trial` is a refused draw of an earlier trial's parameters (never run), not a failed run."""
    return trial.state == TrialState.FAIL and "repeats" in trial.user_attrs


class RepeatedParams(RuntimeError):
    """A trial drew the parameters of an earlier one: it is not run, and the sweep draws again."""


class Repeats(logging.Filter):
    """Refuse repeated parameter sets (`check`), stop the sweep when only repeats are left (the Optuna
    callback), and keep Optuna from logging a refused draw as a failed trial (`quiet`)."""

    def __init__(self, limit: int = REPEAT_LIMIT) -> None:
        super().__init__()
        self.limit, self.in_a_row = limit, 0
        self.numbers: set[int] = set()

    @property
    def exhausted(self) -> bool:
        """Whether the last `limit` draws all repeated earlier trials: nothing new left to try."""
        return self.in_a_row >= self.limit

    def check(self, trial: optuna.Trial) -> None:
        """Raise `RepeatedParams` when another trial of the study holds `trial`'s parameters."""
        params = trial.params
        for other in trial.study.get_trials(deepcopy=False, states=TAKEN):
            if other.number != trial.number and other.params == params:
                trial.set_user_attr("repeats", other.number)
                self.numbers.add(trial.number)
                raise RepeatedParams(f"trial {trial.number} drew the parameters of trial {other.number}")

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.number not in self.numbers:
            self.in_a_row = 0
            return
        self.in_a_row += 1
        log.info(
            "trial %d drew the parameters of trial %d %s: not run, not counted; drawing again",
            trial.number,
            trial.user_attrs["repeats"],
            trial.params,
        )
        if self.exhausted:
            log.error(
                "%d draws in a row repeated earlier trials: the search space holds no parameter set this "
                "sampler has not tried; widen hydra.sweeper.params or lower hydra.sweeper.n_trials",
                self.in_a_row,
            )
            study.stop()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(message.startswith(f"Trial {n} failed") for n in self.numbers)

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """While inside, Optuna's own lines about refused draws are left out of the log."""
        logger = logging.getLogger("optuna.study._optimize")
        logger.addFilter(self)
        try:
            yield
        finally:
            logger.removeFilter(self)
