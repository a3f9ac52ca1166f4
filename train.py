"""Hydra entry: `python train.py [overrides]`; sweeps with `python train.py -m hparams_search=optuna`."""

import sys

import hydra
from omegaconf import DictConfig
from optuna import TrialPruned

from closecast.config import groups_set_to_null
from closecast.errors import exit_on_data_error
from closecast.training.run import objective, train


@hydra.main(config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | tuple[float, ...] | TrialPruned | None:
    with exit_on_data_error():  # a problem with the input the user can fix: one line, no traceback
        try:
            metrics = train(cfg)
        except TrialPruned as pruned:  # a sweep's pruner stopped this trial: an outcome, not a failure
            return pruned  # the sweeper marks the trial PRUNED; its log says why, with no traceback
    return objective(metrics, cfg.get("optimized_metric"))


if __name__ == "__main__":
    sys.argv[1:] = groups_set_to_null(sys.argv[1:])  # `logger=null` reads as Hydra's `~logger`
    main()
