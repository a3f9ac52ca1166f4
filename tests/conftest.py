"""Shared fixtures: configs composed through Hydra's compose API, small and offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import DictConfig

from closecast.config import compose_config

ROOT = Path(__file__).resolve().parents[1]

# A tiny but real run: one bundled ticker from 2009, a small network, two epochs.
TINY = [
    "data.ticker=AAPL",
    "data.start=2009-01-01",
    "data.window=10",
    "data.batch_size=32",
    "model.hidden=8",
    "model.layers=1",
    "model.dropout=0.0",
    "trainer.max_epochs=2",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
]


def compose_train(
    tmp_path: Path, overrides: list[str] | tuple[str, ...] = (), config_name: str = "train"
) -> DictConfig:
    """A tiny `config_name` config with paths inside `tmp_path` (data still from the repo's data/)."""
    paths = [
        f"paths.root_dir={ROOT}",
        f"paths.checkpoints_dir={tmp_path / 'checkpoints'}",
        f"paths.log_dir={tmp_path / 'outputs'}",
    ]
    return compose_config(config_name, [*paths, *TINY, *overrides], output_dir=tmp_path / "run")


@pytest.fixture
def tiny_cfg(tmp_path: Path) -> DictConfig:
    """A tiny training config writing into `tmp_path`."""
    return compose_train(tmp_path)


@pytest.fixture(scope="session")
def trained_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny trained artifact shared by the inference and serving tests."""
    from closecast.training.run import train

    tmp = tmp_path_factory.mktemp("trained")
    train(compose_train(tmp))
    return tmp / "checkpoints" / "best.pt"
