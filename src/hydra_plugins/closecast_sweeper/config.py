"""Config of the `closecast_optuna` sweeper: the stock Optuna sweeper's fields plus pruning and faults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf


@dataclass
class ClosecastOptunaSweeperConf(OptunaSweeperConf):
    _target_: str = "hydra_plugins.closecast_sweeper.closecast_sweeper.ClosecastOptunaSweeper"

    # n_trials (inherited) is the study's size: finished (complete or pruned) trials it should hold
    # (Optuna's MaxTrialsCallback). A rerun of the same command runs only what is missing, so a killed
    # sweep resumes. n_jobs (inherited): trials at once, with a launcher that runs jobs in other processes.
    # storage and study_name (inherited) are passed on to every job as hpo.storage and hpo.study_name.

    # An optuna.pruners.* config (MedianPruner, HyperbandPruner, …); null runs every trial to the end.
    pruner: Any = None

    # Optuna's storage heartbeats: seconds between beats of trials in flight; a RUNNING trial silent for
    # grace_period seconds (Optuna's default when null) belongs to a dead sweep and is marked FAIL by the
    # next sweep. On the same host a dead sweep's trials are marked FAIL at once (its pid is gone).
    heartbeat_interval: int | None = 30
    grace_period: int | None = None

    # What the sweep publishes when it ends: checkpoints_dir, name, selection, weights, objectives
    # (the study's metric names), publish_on_complete (also when a rerun finds nothing to train).
    export: Any = None


ConfigStore.instance().store(
    group="hydra/sweeper",
    name="closecast_optuna",
    node=ClosecastOptunaSweeperConf,
    provider="closecast",
)
