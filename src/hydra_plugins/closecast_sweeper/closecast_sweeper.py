"""Hydra sweeper plugin `closecast_optuna`: Optuna's own optimize loop with pruning, resume and exports."""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from . import config as config  # noqa: F401  (registers the config with Hydra)


class ClosecastOptunaSweeper(Sweeper):
    """The stock Optuna sweeper's sampler configs and search-space syntax, run by `Study.optimize`."""

    def __init__(self, sampler: Any, pruner: Any = None, **settings: Any) -> None:
        # Imported here: Hydra imports every plugin module to discover plugins, Optuna only when sweeping.
        from ._impl import ClosecastSweeperImpl

        # The pruner's config is recorded in the study, so a rerun with another pruner is refused.
        spec = OmegaConf.to_container(pruner, resolve=True) if isinstance(pruner, DictConfig) else None
        if isinstance(pruner, DictConfig):
            pruner = instantiate(pruner, _execution_whitelist_=("optuna.pruners.*",))
        self.sweeper = ClosecastSweeperImpl(sampler=sampler, pruner=pruner, pruner_spec=spec, **settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        return self.sweeper.sweep(arguments)
