"""Shared fixtures: configs composed through Hydra's compose API, small and offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import DictConfig

from tests.helpers.configs import compose_train


@pytest.fixture
def tiny_cfg(tmp_path: Path) -> DictConfig:
    """A tiny training config writing into `tmp_path`."""
    return compose_train(tmp_path, ["publish=true"])


@pytest.fixture(scope="session")
def trained_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny trained artifact shared by the inference and serving tests."""
    from closecast.training.run import train

    tmp = tmp_path_factory.mktemp("trained")
    train(compose_train(tmp, ["publish=true"]))
    return tmp / "checkpoints" / "best.pt"


UNIVERSE = "data.tickers=[AAPL,GOOG,IBM,MSFT]"  # the four bundled sample tickers


@pytest.fixture(scope="session")
def universe_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny pooled run over the four bundled tickers: its one published artifact holds all four."""
    from closecast.training.run import train

    tmp = tmp_path_factory.mktemp("universe")
    train(compose_train(tmp, [UNIVERSE]))
    return tmp / "checkpoints" / "best.pt"
