"""Shared fixtures: configs composed through Hydra's compose API, small and offline."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from filelock import FileLock
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


def once_per_session(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str, make: Callable[[Path], dict]
) -> tuple[Path, dict]:
    """`make(folder)`'s folder and returned data, made once for the whole test session: with several test
    processes (pytest-xdist) the first one to get here makes it in their shared session folder and the
    others wait for it and read it."""
    if worker_id == "master":  # one process: a folder of its own
        folder = tmp_path_factory.mktemp(name)
        return folder, make(folder)
    shared = tmp_path_factory.getbasetemp().parent  # this session's, shared by its test processes
    folder, saved = shared / name, shared / f"{name}.json"
    with FileLock(str(shared / f"{name}.lock")):
        if not saved.exists():
            folder.mkdir()
            saved.write_text(json.dumps(make(folder)))
    return folder, json.loads(saved.read_text())


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> tuple[Path, dict[str, float]]:
    """The tiny default run (`compose_train` with no overrides), trained once a session: its folder (run/,
    checkpoints/best.pt) and metrics. Tests only read it; one that changes files trains its own."""
    from closecast.training.run import train

    return once_per_session(
        tmp_path_factory,
        worker_id,
        "trained",
        lambda tmp: train(compose_train(tmp, ["publish=true", "plots=true"])),
    )


@pytest.fixture(scope="session")
def trained_artifact(tiny_run: tuple[Path, dict[str, float]]) -> Path:
    """The tiny default run's published artifact, shared by the inference and serving tests."""
    return tiny_run[0] / "checkpoints" / "best.pt"


UNIVERSE = "data.tickers=[AAPL,GOOG,IBM,MSFT]"  # the four bundled sample tickers


@pytest.fixture(scope="session")
def universe_artifact(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One tiny pooled run over the four bundled tickers: its one published artifact holds all four."""
    from closecast.training.run import train

    tmp, _ = once_per_session(
        tmp_path_factory,
        worker_id,
        "universe",
        lambda tmp: train(compose_train(tmp, [UNIVERSE, "publish=true"])),
    )
    return tmp / "checkpoints" / "best.pt"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files that hold slow tests first, the rest in their order: the test processes take files in this
    order, so the long ones start early instead of running alone at the end (longest first)."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)
