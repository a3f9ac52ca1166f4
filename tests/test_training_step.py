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


def _fit_weights(tmp_path: Path, overrides: list[str]) -> tuple[dict, int, dict]:
    """Weights, optimizer steps and validation loss of one tiny fit through the run's own builders."""
    from closecast.training import build_module_and_trainer
    from tests.conftest import compose_train

    tiny = ["trainer.max_epochs=3", "data.batch_size=16", "model.dropout=0.2"]
    cfg = compose_train(tmp_path, [*tiny, *overrides])
    pl.seed_everything(0, verbose=False)
    dm: PriceDataModule = build(cfg.data)
    dm.setup("fit")
    module, trainer = build_module_and_trainer(cfg, dm, [], False)
    trainer.fit(module, datamodule=dm)
    state = {k: v.clone() for k, v in module.net.state_dict().items()}
    return state, trainer.global_step, {"val": float(trainer.callback_metrics["val/loss"]), "module": module}


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["model.layers=2", "trainer.gradient_clip_val=0.05"],  # dropout between layers, clipping that bites
        ["trainer.gradient_clip_val=0.01", "+trainer.gradient_clip_algorithm=value"],
        ["scheduler={_target_:torch.optim.lr_scheduler.StepLR,_partial_:true,step_size:1}"],
    ],
    ids=["default", "dropout-and-clipping", "value-clipping", "scheduler"],
)
def test_grouped_steps_train_exactly_as_lightnings_loop(tmp_path: Path, extra: list[str]) -> None:
    """steps_per_call=K takes the same mini-batches in the same order: the same weights, bit for bit."""
    one, steps_one, info_one = _fit_weights(tmp_path / "one", ["steps_per_call=1", *extra])
    grouped, steps_grouped, info_grouped = _fit_weights(tmp_path / "k", ["steps_per_call=5", *extra])
    assert info_one["module"].automatic_optimization and not info_grouped["module"].automatic_optimization
    assert steps_one == steps_grouped > 0  # global_step counts optimizer steps either way
    assert one.keys() == grouped.keys()
    for name in one:
        assert torch.equal(one[name], grouped[name]), name
    assert info_one["val"] == info_grouped["val"]
    if extra and "scheduler" in extra[0]:
        lrs = [m.optimizers().param_groups[0]["lr"] for m in (info_one["module"], info_grouped["module"])]
        assert lrs[0] == lrs[1] < 1e-3  # stepped once per epoch on both paths


def test_steps_per_call_auto_and_its_limits(tmp_path: Path) -> None:
    from closecast.training import STEPS_PER_CALL_AUTO, resolve_steps_per_call

    plain = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False)
    accumulating = pl.Trainer(accelerator="cpu", devices=1, accumulate_grad_batches=2, logger=False)
    assert resolve_steps_per_call("auto", plain) == STEPS_PER_CALL_AUTO > 1
    assert resolve_steps_per_call(None, plain) == STEPS_PER_CALL_AUTO
    assert resolve_steps_per_call(3, plain) == 3
    assert resolve_steps_per_call("auto", accumulating) == 1
    assert resolve_steps_per_call(1, accumulating) == 1
    with pytest.raises(ValueError, match="accumulate_grad_batches=2"):
        resolve_steps_per_call(4, accumulating)
    for bad in (0, -2, "many", True, 2.5):
        with pytest.raises(ValueError, match="steps_per_call"):
            resolve_steps_per_call(bad, plain)


def test_grouped_batches_are_the_same_mini_batches() -> None:
    from closecast.data import Batches

    x = torch.arange(23.0)
    single = [b[0] for b in Batches((x,), 4, shuffle=True, seed=3)]
    grouped = Batches((x,), 4, shuffle=True, seed=3, group=3)
    groups = list(grouped)
    assert len(grouped) == len(groups) == 2 and [len(g) for g in groups] == [3, 3]
    assert all(torch.equal(a, b[0]) for a, b in zip(single, [b for g in groups for b in g], strict=True))


@pytest.mark.parametrize("steps_per_call", [1, 5])
def test_progress_bar_counts_optimizer_steps(tmp_path: Path, steps_per_call: int) -> None:
    from closecast.training import build_module_and_trainer
    from tests.conftest import compose_train

    cfg = compose_train(
        tmp_path,
        [
            "trainer.max_epochs=1",
            "data.batch_size=16",
            "trainer.enable_progress_bar=true",
            f"steps_per_call={steps_per_call}",
        ],
    )
    dm: PriceDataModule = build(cfg.data)
    dm.setup("fit")
    seen: list[tuple[int, int]] = []

    class Watch(pl.Callback):
        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            bar = next(c for c in trainer.callbacks if isinstance(c, ThrottledProgressBar))
            seen.append((bar.train_progress_bar.n, bar.train_progress_bar.total))

    bar = ThrottledProgressBar(min_interval_s=0)
    module, trainer = build_module_and_trainer(cfg, dm, [bar, Watch()], False)
    trainer.fit(module, datamodule=dm)
    steps = -(-len(dm.parts["train"]) // 16)
    assert trainer.global_step == steps
    assert seen == [(steps, steps)]  # the bar ends at the epoch's optimizer steps, whatever K is
