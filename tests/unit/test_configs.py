"""Every option of every config group composes and resolves, alone and inside a search; the options are found
in `configs/`, so a new file is covered without touching this test."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hypothesis import given
from hypothesis import strategies as st
from omegaconf import DictConfig, OmegaConf

from closecast.config import config_dir

CONFIGS = config_dir()
SEARCHES = [None, "optuna"]


def groups() -> dict[str, list[str]]:
    """Each config group under `configs/` (a folder holding YAML files, e.g. `hparams_search/pruner`) and its
    options."""
    found: dict[str, list[str]] = {}
    for path in sorted(CONFIGS.rglob("*.yaml")):
        group = path.parent.relative_to(CONFIGS).as_posix()
        if group != ".":
            found.setdefault(group, []).append(path.stem)
    return found


OPTIONS = [(group, option) for group, options in groups().items() for option in options]


def _compose(overrides: list[str], tmp_path: Path) -> DictConfig:
    GlobalHydra.instance().clear()
    paths = [f"paths.root_dir={tmp_path}", f"paths.output_dir={tmp_path / 'run'}"]
    with initialize_config_dir(config_dir=str(CONFIGS)):
        cfg = compose("train", [*paths, *overrides], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # so ${hydra:...} resolves as in a run
    return cfg


@cache
def _groups_in_defaults(search: str | None, root: Path) -> frozenset[str]:
    base = [f"hparams_search={search}"] if search else []
    return frozenset(_compose(base, root).hydra.runtime.choices)


def _select(group: str, option: str, search: str | None, tmp_path: Path) -> list[str]:
    """The override that picks `option`: `group=option` where the defaults tree has the group already,
    else `+group=option` (a group only a search config lists, e.g. `hparams_search/pruner` alone)."""
    search = None if group == "hparams_search" else search
    base = [f"hparams_search={search}"] if search else []
    known = _groups_in_defaults(search, tmp_path.parent)
    return [*base, f"{'' if group in known else '+'}{group}={option}"]


def test_the_groups_users_reach_for_are_found():
    found = groups()
    expected = {"experiment", "debug", "hparams_search", "hparams_search/pruner", "model", "trainer"}
    assert expected <= set(found)
    assert {"fast_dev_run", "limit", "overfit", "ddp_cpu"} <= set(found["debug"])
    assert "hpo" not in {group.split("/")[0] for group in found}  # one name for the search's settings


@pytest.mark.parametrize("search", SEARCHES, ids=lambda s: f"search={s}")
@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_resolves(group, option, search, tmp_path):
    cfg = _compose(_select(group, option, search, tmp_path), tmp_path)
    assert cfg.hydra.runtime.choices[group] == option
    job = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)
    assert job["data"]["_target_"] and job["model"]["_target_"] and job["trainer"]["_target_"]
    if search or group == "hparams_search":
        assert cfg.hydra.sweeper._target_.startswith("hydra_plugins.closecast_sweeper")
        assert cfg.publish is False
    if group == "hparams_search/pruner":
        assert cfg.hpo.pruner._target_.startswith("optuna.pruners.")


@pytest.mark.parametrize("option", groups()["debug"])
def test_no_debug_preset_publishes(option, tmp_path):
    cfg = _compose([f"debug={option}"], tmp_path)
    assert cfg.publish is False or cfg.trainer.get("fast_dev_run"), option
    assert cfg.task_name == "debug"


@pytest.mark.parametrize("group", ["experiment", "debug"])
def test_presets_are_global_packages(group):
    for path in sorted((CONFIGS / group).glob("*.yaml")):
        assert path.read_text().startswith("# @package _global_\n"), path


def test_the_pruner_is_chosen_under_hparams_search(tmp_path):
    cfg = _compose(["hparams_search=optuna", "hparams_search/pruner=median"], tmp_path)
    assert cfg.hpo.pruner._target_ == "optuna.pruners.MedianPruner"
    assert cfg.hydra.sweeper.pruner._target_ == "optuna.pruners.MedianPruner"
    assert _compose(["hparams_search=optuna_pareto"], tmp_path).hpo.pruner is None


def test_a_plain_run_optimizes_the_best_epochs_validation_loss(tmp_path):
    assert _compose([], tmp_path).optimized_metric == "val/loss"
    assert _compose(["hparams_search=optuna"], tmp_path).optimized_metric == "val/loss"


def test_config_comments_use_words_a_newcomer_can_place():
    for path in sorted(CONFIGS.rglob("*.yaml")):
        text = path.read_text().lower()
        assert "the reference" not in text and "the issue" not in text, path


def test_a_run_is_named_by_its_series_and_the_overrides_typed():
    from closecast.config import run_name

    assert run_name({"ticker": "MSFT"}, "model.hidden=128") == "MSFT_model.hidden=128"
    assert run_name({"ticker": "AAPL", "tickers": ["AAPL", "GOOG"]}, "") == "AAPL+GOOG"
    assert run_name({"tickers": [f"T{i}" for i in range(20)]}, "") == "20series"
    assert run_name({"source": "csv", "path": "/data/prices/XYZ.csv"}, "") == "XYZ"
    assert run_name({"source": "skfolio", "ticker": "AAPL"}, "") == "skfolio"


@given(st.text(max_size=300), st.text(max_size=12))
def test_a_run_name_is_one_bounded_folder_name_and_tells_runs_apart(overrides, ticker):
    from closecast.config import RUN_NAME_LENGTH, run_name

    name = run_name({"ticker": ticker}, overrides)
    assert len(name) <= RUN_NAME_LENGTH and "/" not in name and "\\" not in name and name not in (".", "..")
    assert re.fullmatch(r"[A-Za-z0-9._,=+-]*", name)
    if len(name) == RUN_NAME_LENGTH:  # cut: the hash of the whole name keeps cut names apart
        assert run_name({"ticker": ticker}, overrides + "x") != name


def test_the_run_dir_resolves_to_the_time_the_series_and_the_overrides(tmp_path):
    cfg = _compose(["data.ticker=MSFT", "model.hidden=16", f"paths.log_dir={tmp_path}"], tmp_path)
    run_dir = Path(cfg.hydra.run.dir)
    assert run_dir.parent == tmp_path / "train" / "runs"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_MSFT_model\.hidden=16", run_dir.name), run_dir.name
