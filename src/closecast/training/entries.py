"""The jobs of the Hydra entries (`train.py`, `eval.py` at the root) and the console scripts that run them
from an installed package (`closecast-train`, `closecast-eval`), which read the configs shipped inside it
(`closecast/configs`, the checkout's `configs/` itself) and the working directory's `configs/` beside them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from optuna import TrialPruned

from closecast.config import config_dir, groups_set_to_null
from closecast.errors import exit_on_data_error
from closecast.training.evaluate import evaluate
from closecast.training.run import objective, train


def train_job(cfg: DictConfig) -> float | tuple[float, ...] | TrialPruned | None:
    """`train.py`'s job: train, and return what a sweep optimizes."""
    with exit_on_data_error():  # a problem with the input the user can fix: one line, no traceback
        try:
            metrics = train(cfg)
        except TrialPruned as pruned:  # a sweep's pruner stopped this trial: an outcome, not a failure
            return pruned  # the sweeper marks the trial PRUNED; its log says why, with no traceback
    return objective(metrics, cfg.get("optimized_metric"))


def eval_job(cfg: DictConfig) -> float:
    """`eval.py`'s job: score the artifact `cfg.artifact` without refitting; return its test MASE."""
    overridden = {o.split("=", 1)[0].lstrip("+~") for o in HydraConfig.get().overrides.task}
    with exit_on_data_error():
        metrics = evaluate(cfg, overridden)
    return float(metrics["test/mase"])


def local_search_path(argv: list[str], cwd: Path) -> list[str]:
    """`argv` with the working directory's `configs/` on Hydra's search path, where it has one and the
    command line sets no search path of its own: its own presets (`configs/experiment/mine.yaml`) compose
    with the packaged ones."""
    local = cwd / "configs"
    if not local.is_dir() or local.resolve() == config_dir().resolve():
        return argv
    if any(a.lstrip("+").startswith("hydra.searchpath") for a in argv):
        return argv
    return [*argv, f"hydra.searchpath=['file://{local.resolve()}']"]


def _run(job: Callable[[DictConfig], object], config_name: str) -> None:
    argv = groups_set_to_null(sys.argv[1:])  # `logger=null` reads as Hydra's `~logger`
    sys.argv = [sys.argv[0], *local_search_path(argv, Path.cwd())]
    hydra.main(config_path=str(config_dir()), config_name=config_name)(job)()


def train_main() -> None:
    """`closecast-train [overrides]`: `python train.py` from an installed package."""
    _run(train_job, "train")


def eval_main() -> None:
    """`closecast-eval [overrides]`: `python eval.py` from an installed package."""
    _run(eval_job, "eval")
