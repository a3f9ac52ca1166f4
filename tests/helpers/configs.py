"""Tiny, offline configs composed through Hydra's compose API, with paths inside a test's tmp dir."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from closecast.config import compose_config

ROOT = Path(__file__).resolve().parents[2]

# A tiny but real run: one bundled ticker from 2009, a small network, two epochs, no figures.
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
    "plots=false",  # the test figures are drawn by the runs that check them (`tiny_run`)
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


def sample_closes(n: int) -> list[float]:
    """The last `n` closes of the bundled AAPL sample, as a client would send them."""
    frame = pd.read_csv(ROOT / "data" / "sample" / "AAPL.csv")
    column = "Adj Close" if "Adj Close" in frame.columns else "Close"
    return [float(v) for v in frame[column].tail(n)]
