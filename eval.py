"""Hydra entry: `python eval.py [overrides]` scores a published artifact (`artifact=`, default
checkpoints/best.pt) on the data of `data.*` without refitting its network, e.g. `python eval.py
data.ticker=MSFT` scores the published AAPL model on MSFT; metrics.json goes into its run dir."""

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from closecast.errors import exit_on_data_error
from closecast.training.evaluate import evaluate


@hydra.main(config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> float:
    overridden = {o.split("=", 1)[0].lstrip("+~") for o in HydraConfig.get().overrides.task}
    with exit_on_data_error():  # a problem with the input the user can fix: one line, no traceback
        metrics = evaluate(cfg, overridden)
    return float(metrics["test/mase"])


if __name__ == "__main__":
    main()
