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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x, y = batch[0], batch[1]
        loss = self.loss_fn(self.net(x), y)
        if not torch.isfinite(loss):
            # A diverged run must fail loudly (and count as a failed trial), never checkpoint NaNs.
            raise FloatingPointError(f"training loss became {loss.item()} at step {self.global_step}")
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=x.shape[0])
        return loss

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
