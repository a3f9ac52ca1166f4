"""Hydra entry: `python train.py [overrides]`; sweeps with `python train.py -m hparams_search=optuna`."""

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from closecast.sources import DataError
from closecast.training import objective, train


@hydra.main(config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | tuple[float, ...] | None:
    try:
        metrics = train(cfg)
    except DataError as exc:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the sweep records the trial as failed and goes on
        # A problem with the input series the user can fix: say it without a traceback.
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    return objective(metrics, cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
