"""What the lean training step still guarantees: the epoch's train/loss, the divergence guard, the bar."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from closecast.data import EVAL_BATCH_SIZE, PriceDataModule
from closecast.model import LSTMForecaster
from closecast.module import ForecastModule
from closecast.progress import ThrottledProgressBar
from closecast.training import build

ROOT = Path(__file__).resolve().parents[1]


def tiny_data(batch_size: int = 50) -> PriceDataModule:
    dm = PriceDataModule(
        source="sample",
        ticker="AAPL",
        start="2009-01-01",
        window=10,
        batch_size=batch_size,
        data_dir=ROOT / "data",
    )
    dm.setup("fit")
    return dm


def tiny_module(dm: PriceDataModule) -> ForecastModule:
    torch.manual_seed(0)
    net = LSTMForecaster(hidden=4, layers=1, horizon=dm.horizon)
    return ForecastModule(net=net, optimizer=partial(torch.optim.Adam, lr=1e-3), codec=dm.codec)


class BatchLosses(pl.Callback):
    """Records each training batch's loss and size as Lightning hands them over."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, int]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.seen.append((float(outputs["loss"]), int(batch[0].shape[0])))


def trainer(tmp_path: Path, *callbacks: pl.Callback, **kwargs) -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=list(callbacks),
        **kwargs,
    )


def test_train_loss_is_the_batch_size_weighted_epoch_mean(tmp_path):
    dm = tiny_data(batch_size=50)  # the last batch is smaller, so the weighting matters
    record = BatchLosses()
    fit = trainer(tmp_path, record, enable_checkpointing=False)
    fit.fit(tiny_module(dm), datamodule=dm)

    sizes = [n for _, n in record.seen]
    assert len(set(sizes)) == 2 and sum(sizes) == len(dm.parts["train"])
    expected = sum(loss * n for loss, n in record.seen) / sum(sizes)
    assert float(fit.callback_metrics["train/loss"]) == pytest.approx(expected, rel=1e-5)
    assert "val/loss" in fit.callback_metrics


def test_a_diverged_epoch_fails_before_any_checkpoint(tmp_path):
    dm = tiny_data()
    dm.parts["train"].x[7, 3, 0] = float("nan")  # one poisoned window: its batch's loss is NaN
    checkpoints = tmp_path / "ckpt"
    fit = trainer(tmp_path, ModelCheckpoint(dirpath=checkpoints, monitor="val/loss", save_last=True))
    with pytest.raises(FloatingPointError, match="training loss became non-finite .* in epoch 0"):
        fit.fit(tiny_module(dm), datamodule=dm)
    assert not list(checkpoints.glob("*.ckpt"))


def test_evaluation_takes_big_batches_and_training_keeps_its_own(tmp_path):
    dm = tiny_data(batch_size=32)
    val = len(dm.parts["val"])
    assert val <= EVAL_BATCH_SIZE
    assert len(dm.val_dataloader()) == 1 and len(dm.test_dataloader()) == 1
    assert [len(b[0]) for b in dm.train_dataloader()][0] == 32


def test_progress_bar_redraws_on_a_clock_and_always_at_the_end():
    bar = ThrottledProgressBar(min_interval_s=3600)
    assert bar._should_update(1, 10)  # first step draws
    assert not any(bar._should_update(n, 10) for n in range(2, 10))  # within the interval: no redraw
    assert bar._should_update(10, 10)  # the last step always draws
    assert ThrottledProgressBar(min_interval_s=0)._should_update(3, 10)
    with pytest.raises(ValueError, match="min_interval_s must be >= 0"):
        ThrottledProgressBar(min_interval_s=-1)


def test_default_config_uses_the_throttled_bar():
    default = OmegaConf.load(ROOT / "configs" / "callbacks" / "default.yaml")
    assert isinstance(build(default.progress_bar), ThrottledProgressBar)
