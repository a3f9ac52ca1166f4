"""Hydra entry: `python train.py [overrides]`; sweeps with `python train.py -m hparams_search=optuna`."""

import sys

import hydra
from omegaconf import DictConfig
from optuna import TrialPruned

from closecast.config import groups_set_to_null
from closecast.training.entries import train_job


@hydra.main(config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | tuple[float, ...] | TrialPruned | None:
    return train_job(cfg)


if __name__ == "__main__":
    sys.argv[1:] = groups_set_to_null(sys.argv[1:])  # `logger=null` reads as Hydra's `~logger`
    main()
