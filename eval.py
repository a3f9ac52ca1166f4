"""Hydra entry: `python eval.py [overrides]` scores a published artifact (`artifact=`, default
checkpoints/best.pt) on the data of `data.*` without refitting its network, e.g. `python eval.py
data.ticker=MSFT` scores the published AAPL model on MSFT; metrics.json goes into its run dir."""

import sys

import hydra
from omegaconf import DictConfig

from closecast.config import groups_set_to_null
from closecast.training.entries import eval_job


@hydra.main(config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> float:
    return eval_job(cfg)


if __name__ == "__main__":
    sys.argv[1:] = groups_set_to_null(sys.argv[1:])  # `logger=null` reads as Hydra's `~logger`
    main()
