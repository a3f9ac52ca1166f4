"""Lightning's own loop as the run builds it: one batch per step, the epoch's train/loss, clipping and
schedulers from the config, the divergence guard, the progress bar and the logging interval."""

from __future__ import annotations

import warnings
from functools import partial
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint, ProgressBar
from pytorch_lightning.loggers import TensorBoardLogger

from closecast.data.datamodule import EVAL_BATCH_SIZE, PriceDataModule
from closecast.evaluation.assessment import raw_scores
from closecast.models.lstm import LSTMForecaster
from closecast.models.module import ForecastModule
from closecast.training.progress import EpochLines
from closecast.training.trainer import build, build_callbacks, build_module_and_trainer
from tests.helpers.configs import compose_train

ROOT = Path(__file__).resolve().parents[3]


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
    return ForecastModule(
        net=net,
        likelihood=net.likelihood,
        optimizer=partial(torch.optim.Adam, lr=1e-3),
        raw_scores=partial(raw_scores, dm.codec),
    )


class BatchLosses(pl.Callback):
    """Records each training batch's loss and size as Lightning hands them over."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, int]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.seen.append((float(outputs["loss"]), int(batch[0].shape[0])))


class StepChanges(pl.Callback):
    """The change of every weight made by each optimizer step."""

    def __init__(self) -> None:
        self.changes: list[torch.Tensor] = []

    def _flat(self, module: pl.LightningModule) -> torch.Tensor:
        return torch.cat([p.detach().flatten().clone() for p in module.parameters()])

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.before = self._flat(pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.changes.append(self._flat(pl_module) - self.before)


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


def fit_from_config(tmp_path: Path, overrides: list[str], *callbacks: pl.Callback, logger=False, batch=16):
    """A tiny fit through the run's own builders; returns the module, trainer and datamodule."""
    cfg = compose_train(tmp_path, [f"data.batch_size={batch}", *overrides])
    pl.seed_everything(0, verbose=False)
    dm: PriceDataModule = build(cfg.data)
    dm.setup("fit")
    module, fit = build_module_and_trainer(cfg, dm, list(callbacks), logger)
    fit.fit(module, datamodule=dm)
    return module, fit, dm


def test_train_loss_is_the_batch_size_weighted_epoch_mean(tmp_path):
    dm = tiny_data(batch_size=50)  # the last batch is smaller, so the weighting matters
    record = BatchLosses()
    fit = trainer(tmp_path, record, enable_checkpointing=False)
    fit.fit(tiny_module(dm), datamodule=dm)

    sizes = [n for _, n in record.seen]
    assert len(set(sizes)) == 2 and sum(sizes) == len(dm.parts["train"])
    expected = sum(loss * n for loss, n in record.seen) / sum(sizes)
    assert float(fit.callback_metrics["train/loss"]) == pytest.approx(expected, rel=1e-5)
    assert {"val/loss", "val/raw/mae", "val/raw/mase"} <= set(fit.callback_metrics)


def test_a_diverged_epoch_fails_before_any_checkpoint(tmp_path):
    dm = tiny_data()
    dm.parts["train"].x[7, 3, 0] = float("nan")  # one poisoned window: its step makes the weights NaN
    checkpoints = tmp_path / "ckpt"
    fit = trainer(tmp_path, ModelCheckpoint(dirpath=checkpoints, monitor="val/loss", save_last=True))
    with pytest.raises(FloatingPointError, match="validation loss became non-finite .* in epoch 0"):
        fit.fit(tiny_module(dm), datamodule=dm)
    assert not list(checkpoints.glob("*.ckpt"))


def test_evaluation_takes_big_batches_and_training_keeps_its_own():
    dm = tiny_data(batch_size=32)
    assert len(dm.parts["val"]) <= EVAL_BATCH_SIZE
    assert len(dm.val_dataloader()) == 1
    assert [len(b[0]) for b in dm.train_dataloader()][0] == 32


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_the_trainer_clips_each_step_as_configured(tmp_path, algorithm):
    """SGD with lr=1 moves the weights by exactly the (clipped) gradient: every step stays within it."""
    sgd = "optimizer={_target_:torch.optim.SGD,_partial_:true,lr:1.0}"
    clip = ["trainer.gradient_clip_val=0.001", f"+trainer.gradient_clip_algorithm={algorithm}"]
    clipped, free = StepChanges(), StepChanges()
    _, fit, dm = fit_from_config(tmp_path / "clip", ["trainer.max_epochs=1", sgd, *clip], clipped)
    fit_from_config(tmp_path / "free", ["trainer.max_epochs=1", sgd, "trainer.gradient_clip_val=null"], free)

    steps = -(-len(dm.parts["train"]) // 16)
    assert fit.global_step == len(clipped.changes) == steps  # one batch, one optimizer step
    size = (lambda d: d.norm()) if algorithm == "norm" else (lambda d: d.abs().max())
    assert all(0 < size(d) <= 0.001 * (1 + 1e-4) for d in clipped.changes)
    assert max(size(d) for d in free.changes) > 0.01  # unclipped, the same steps are far bigger


def test_a_configured_scheduler_is_stepped_by_lightning_every_epoch(tmp_path):
    step_lr = "scheduler={_target_:torch.optim.lr_scheduler.StepLR,_partial_:true,step_size:1,gamma:0.5}"
    module, _, _ = fit_from_config(tmp_path, ["trainer.max_epochs=3", step_lr])
    lr = module.optimizers().param_groups[0]["lr"]
    assert lr == pytest.approx(1e-3 * 0.5**3)


def test_default_callbacks_have_a_progress_bar_unless_it_is_off(tmp_path):
    bars = [c for c in build_callbacks(compose_train(tmp_path), tmp_path) if isinstance(c, ProgressBar)]
    assert bars == []  # the tests' config sets trainer.enable_progress_bar=false: no bar, no error
    cfg = compose_train(tmp_path, ["trainer.enable_progress_bar=true"])
    bars = [c for c in build_callbacks(cfg, tmp_path) if isinstance(c, ProgressBar)]
    assert len(bars) == 1 and type(bars[0]) is EpochLines  # stdout is not a terminal here


def test_an_epoch_shorter_than_the_logging_interval_draws_no_warning(tmp_path):
    """With few batches per epoch (big batches) and a logger, Lightning's interval warning stays away."""
    logger = TensorBoardLogger(tmp_path / "tb", name="", version="")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        overrides = ["trainer.max_epochs=1", "trainer.log_every_n_steps=50"]
        _, fit, dm = fit_from_config(tmp_path, overrides, logger=logger, batch=512)
    batches = -(-len(dm.parts["train"]) // 512)
    assert batches < 50 and fit.log_every_n_steps == batches
    assert not [w for w in caught if "logging interval" in str(w.message)]
