"""Hydra entry: `python train.py [overrides]`; sweeps with `python train.py -m hparams_search=optuna`."""

import hydra
from omegaconf import DictConfig

from closecast.training import objective, train


@hydra.main(config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | tuple[float, ...] | None:
    metrics = train(cfg)
    return objective(metrics, cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
