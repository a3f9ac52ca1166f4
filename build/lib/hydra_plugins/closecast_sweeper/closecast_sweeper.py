"""Hydra sweeper plugin `closecast_optuna`: hydra-optuna-sweeper with pruning, resume and exports."""

from __future__ import annotations

import functools
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig

from . import config as config  # noqa: F401  (registers the config with Hydra)


class ClosecastOptunaSweeper(Sweeper):
    """The stock Optuna sweeper's sampler and search space, with our trial loop (see `_impl`)."""

    def __init__(
        self,
        sampler: Any,
        direction: Any,
        storage: Any | None,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        custom_search_space: str | None,
        params: DictConfig | None,
        pruner: Any = None,
        heartbeat_interval: int | None = 30,
        grace_period: int | None = None,
        export: Any = None,
    ) -> None:
        from ._impl import ClosecastSweeperImpl

        # The sampler is made again for each trial with seed + trial number (see `_impl`).
        make_sampler = functools.partial(
            instantiate,
            sampler,
            _execution_whitelist_=("hydra_plugins.hydra_optuna_sweeper.*", "optuna.samplers.*"),
        )
        seed = sampler.get("seed") if isinstance(sampler, DictConfig) else None
        if isinstance(pruner, DictConfig):
            pruner = instantiate(pruner, _execution_whitelist_=("optuna.pruners.*",))
        self.sweeper = ClosecastSweeperImpl(
            make_sampler(),
            direction,
            storage,
            study_name,
            n_trials,
            n_jobs,
            max_failure_rate,
            custom_search_space,
            params,
            pruner=pruner,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            export=export,
            make_sampler=lambda seed: make_sampler(seed=seed),
            seed=seed,
        )

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        return self.sweeper.sweep(arguments)
