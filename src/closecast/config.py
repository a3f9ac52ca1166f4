"""The project's Hydra configs composed outside a Hydra entry point (tests, scripts, the study export)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf, open_dict

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"  # in a checkout: <repo>/src/closecast/..
PACKAGED_CONFIG_DIR = Path(__file__).resolve().parent / "configs"  # in a wheel: the same files, shipped


# A run's name, after its time in its run dir (configs/hydra/default.yaml), and so in TensorBoard's and
# MLflow's lists of runs: at most this many characters, a short hash of the rest standing for what is cut.
RUN_NAME_LENGTH = 80


def series_label(data: Any) -> str:
    """What a run trains on, in a few characters: the ticker(s), or the number of series, or the source."""
    tickers = list(data.get("tickers") or [])
    if tickers:
        return "+".join(map(str, tickers)) if len(tickers) <= 3 else f"{len(tickers)}series"
    path = data.get("path")
    if data.get("source") == "csv" and isinstance(path, str) and not any(c in path for c in "*?["):
        return Path(path).stem
    if data.get("source") in ("csv", "panel", "skfolio"):
        return str(data.get("source"))
    return str(data.get("ticker") or "")


def run_name(data: Any, overrides: str = "") -> str:
    """`AAPL_model.hidden=128,optimizer.lr=0.01`: the series and the overrides the user typed (Hydra's
    `hydra.job.override_dirname`), safe as one folder name (no `/`, at most `RUN_NAME_LENGTH` characters)."""
    name = "_".join(part for part in (series_label(data or {}), overrides) if part)
    safe = re.sub(r"[^A-Za-z0-9._,=+-]+", "-", name)
    if len(safe) > RUN_NAME_LENGTH:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        safe = f"{safe[: RUN_NAME_LENGTH - len(digest) - 1]}-{digest}"
    return safe


OmegaConf.register_resolver("run_name", run_name, replace=True)


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


def groups_set_to_null(args: Sequence[str]) -> list[str]:
    """`args` with each `group=null` of a config group of `configs/` (`logger=null`) as Hydra's `~group`.

    Hydra removes a group's default only with `~group`; `group=null` on its command line stops with a
    traceback, though `group: null` is how a defaults list says it."""
    groups = {p.name for p in config_dir().iterdir() if p.is_dir()}
    return [f"~{a.split('=')[0]}" if a.endswith("=null") and a.split("=")[0] in groups else a for a in args]


def compose_config(
    config_name: str = "train", overrides: Sequence[str] = (), output_dir: str | Path | None = None
) -> DictConfig:
    """`configs/<config_name>.yaml` with `overrides`; `output_dir` stands in for Hydra's run dir."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir())):
        cfg = compose(config_name=config_name, overrides=groups_set_to_null(overrides))
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg
