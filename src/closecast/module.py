"""The LightningModule: trains the injected network on normalized targets, scores it in prices."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from closecast.codec import Codec
from closecast.metrics import score_forecasts


class ForecastModule(pl.LightningModule):
    """MSE on normalized targets; validation reports price-unit MAE/RMSE/MAPE and MASE against naive."""

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        codec: Codec | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler", "codec"])
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.codec = codec
        self.loss_fn = nn.MSELoss()
        self._outputs: list[tuple[torch.Tensor, ...]] = []
        # The detached loss and size of each training batch of the current epoch, reduced once per epoch:
        # a per-step `self.log`, running sum or finiteness test costs more host time per step than the
        # small network's arithmetic on a GPU (kernel launches, a host sync for the test).
        self._losses: list[torch.Tensor] = []
        self._sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x, y = batch[0], batch[1]
        loss = self.loss_fn(self.net(x), y)
        self._losses.append(loss.detach())
        self._sizes.append(int(x.shape[0]))
        return loss

    def on_train_epoch_start(self) -> None:
        self._losses, self._sizes = [], []

    def _epoch_loss(self) -> torch.Tensor | None:
        """Batch-size-weighted mean training loss of the epoch so far (what `on_epoch=True` logs)."""
        if not self._losses:
            return None
        sizes = torch.tensor(self._sizes, dtype=self._losses[0].dtype, device=self._losses[0].device)
        return (torch.stack(self._losses) * sizes).sum() / sizes.sum()

    def _check_finite(self) -> torch.Tensor | None:
        # A diverged run must fail loudly (and count as a failed trial), never checkpoint NaNs. One NaN
        # or inf batch loss makes the epoch mean non-finite; this runs before validation (whose end writes
        # the checkpoints) and at the end of the training epoch (before the checkpoint callbacks).
        loss = self._epoch_loss()
        if loss is not None and not torch.isfinite(loss):
            raise FloatingPointError(
                f"training loss became non-finite ({loss.item()}) in epoch {self.current_epoch} "
                f"(by step {self.global_step}); lower optimizer.lr or keep trainer.gradient_clip_val set"
            )
        return loss

    def on_validation_epoch_start(self) -> None:
        self._check_finite()

    def on_train_epoch_end(self) -> None:
        loss = self._check_finite()
        if loss is not None:
            self.log("train/loss", loss, prog_bar=True)

    def _eval_step(self, batch: tuple[torch.Tensor, ...]) -> None:
        x, y, last, future = batch
        pred = self.net(x)
        self._outputs.append((pred.detach(), y, last, future))

    def _eval_epoch_end(self, stage: str) -> None:
        if not self._outputs:
            return
        pred, y, last, future = (torch.cat(parts) for parts in zip(*self._outputs, strict=True))
        self._outputs.clear()
        loss = self.loss_fn(pred, y)
        self.log(f"{stage}/loss", loss, prog_bar=True)
        if self.codec is None:
            return
        prices = self.codec.decode(pred, last, shrink=1.0).cpu().numpy()
        report = score_forecasts({"model": prices}, future.cpu().numpy(), last.cpu().numpy())
        model = report["model"]
        for name in ("mae", "rmse", "mape", "mase"):
            value = model[name]
            self.log(f"{stage}/{name}", float(value) if np.isfinite(value) else float("nan"))

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self._eval_step(batch)

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def test_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self._eval_step(batch)

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss"}}
