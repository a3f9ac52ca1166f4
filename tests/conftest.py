"""Shared fixtures: configs composed through Hydra's compose API, small and offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from tests.helpers.configs import compose_train

# One torch thread in the test process, as `train()` sets for a run (`threads: 1`): the tests that fit or
# score outside it would otherwise take one per core, and on a small machine shared with other test
# processes their spinning threads wait on each other's.
torch.set_num_threads(1)


@pytest.fixture
def tiny_cfg(tmp_path: Path) -> DictConfig:
    """A tiny training config writing into `tmp_path`."""
    return compose_train(tmp_path, ["publish=true"])


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """The tiny default run (`compose_train` with no overrides), trained once a session: its folder (run/,
    checkpoints/best.pt) and metrics. Tests only read it; one that changes files trains its own."""
    from closecast.training.run import train

    tmp = tmp_path_factory.mktemp("trained")
    return tmp, train(compose_train(tmp, ["publish=true", "plots=true"]))


@pytest.fixture(scope="session")
def trained_artifact(tiny_run: tuple[Path, dict[str, float]]) -> Path:
    """The tiny default run's published artifact, shared by the inference and serving tests."""
    return tiny_run[0] / "checkpoints" / "best.pt"


UNIVERSE = "data.tickers=[AAPL,GOOG,IBM,MSFT]"  # the four bundled sample tickers


@pytest.fixture(scope="session")
def universe_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny pooled run over the four bundled tickers: its one published artifact holds all four."""
    from closecast.training.run import train

    tmp = tmp_path_factory.mktemp("universe")
    train(compose_train(tmp, [UNIVERSE, "publish=true"]))
    return tmp / "checkpoints" / "best.pt"
