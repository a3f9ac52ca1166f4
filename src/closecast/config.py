"""The project's Hydra configs composed outside a Hydra entry point (tests, scripts, the study export)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"  # in a checkout: <repo>/src/closecast/..
PACKAGED_CONFIG_DIR = Path(__file__).resolve().parent / "configs"  # in a wheel: the same files, shipped


class ConfigsNotFound(FileNotFoundError):
    """The Hydra configs are in neither a checkout's `configs/` nor the installed package."""


def config_dir() -> Path:
    """The Hydra configs: the checkout's `configs/` beside the package's source tree, else those shipped
    inside the installed package, else the working directory's `configs/`."""
    for candidate in (CONFIG_DIR, PACKAGED_CONFIG_DIR, Path.cwd() / "configs"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise ConfigsNotFound(
        f"the Hydra configs (configs/train.yaml) are not in {CONFIG_DIR.parent}, the installed package "
        f"({PACKAGED_CONFIG_DIR.parent}) or {Path.cwd()}: reinstall closecast "
        "(pip install 'closecast[train]') or run this from a closecast checkout, where configs/ is"
    )


def compose_config(
    config_name: str = "train", overrides: Sequence[str] = (), output_dir: str | Path | None = None
) -> DictConfig:
    """`configs/<config_name>.yaml` with `overrides`; `output_dir` stands in for Hydra's run dir."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir())):
        cfg = compose(config_name=config_name, overrides=list(overrides))
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg
