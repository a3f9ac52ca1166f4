"""A sampler seeded by each trial's number, so a resumed or shared study never repeats an earlier draw.

Every sweep process builds its sampler from the same config, hence the same seed: a plain seeded sampler
would draw a rerun's first configurations again, and two processes started together would draw alike.
Seeding with `seed + trial number` keeps a sweep reproducible and its trials distinct."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState


class TrialSeededSampler(BaseSampler):
    """Delegate every draw of trial `n` to `make(seed + n)`, a sampler made for that trial alone."""

    def __init__(self, make: Callable[[int], BaseSampler], seed: int) -> None:
        self.make = make
        self.seed = int(seed)
        self._samplers: dict[int, BaseSampler] = {}
        self._lock = threading.Lock()  # trials of one process may be asked from several threads

    def _for(self, trial: FrozenTrial) -> BaseSampler:
        with self._lock:
            if trial.number not in self._samplers:
                self._samplers[trial.number] = self.make(self.seed + trial.number)
            return self._samplers[trial.number]

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._for(trial).before_trial(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Any) -> None:
        sampler = self._for(trial)
        with self._lock:
            self._samplers.pop(trial.number, None)
        sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        """Nothing to do: every trial's sampler is seeded by its number (Optuna calls this per thread)."""
