"""The LightningModule: trains the injected network on normalized targets, scores it in prices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str = "norm",
        steps_per_call: int = 1,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler", "codec"])
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.codec = codec
        # Clipping lives here, not in the Trainer: Lightning refuses Trainer clipping with manual
        # optimization, and both ways of stepping must clip the same.
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = gradient_clip_algorithm
        self.steps_per_call = steps_per_call
        self.loss_fn = nn.MSELoss()
        self._outputs: list[tuple[torch.Tensor, ...]] = []
        # The detached loss and size of each training batch of the current epoch, reduced once per epoch:
        # a per-step `self.log`, running sum or finiteness test costs more host time per step than the
        # small network's arithmetic on a GPU (kernel launches, a host sync for the test).
        self._losses: list[torch.Tensor] = []
        self._sizes: list[int] = []

    @property
    def steps_per_call(self) -> int:
        """Optimizer steps per `training_step` call: 1 is Lightning's own loop; K > 1 takes K mini-batches."""
        return self._steps_per_call

    @steps_per_call.setter
    def steps_per_call(self, k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"steps_per_call must be a positive integer, got {k!r}")
        self._steps_per_call = k
        self.automatic_optimization = k == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        if self.automatic_optimization:
            x, y = batch[0], batch[1]
            loss = self.loss_fn(self.net(x), y)
            self._record(loss, x)
            return loss
        # steps_per_call > 1: `batch` is a list of mini-batches, each its own optimizer step, in the order
        # Lightning's loop would take them (the same numbers). On a GPU the small network's step is bound
        # by host time, and Lightning's per-call hooks and bookkeeping cost about a fifth of it; here they
        # are paid once per K steps. `loss.backward()` is plain (no loss scaling): `resolve_steps_per_call`
        # keeps K at 1 under 16-bit mixed precision, gradient accumulation and multi-device strategies.
        optimizer = self.optimizers()
        clip = self._direct_clip(optimizer)
        for x, y, *_ in batch:
            loss = self.loss_fn(self.net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            clip()
            optimizer.step()  # through Lightning's wrapper: global_step counts optimizer steps
            self._record(loss, x)
        return None

    def _direct_clip(self, optimizer: Any) -> Callable[[], Any]:
        """What `clip_gradients` does without a loss scaler (none here): torch's clipping of the
        optimizer's parameters, minus Lightning's per-call checks."""
        value, algorithm = self.gradient_clip_val, self.gradient_clip_algorithm
        if not value:
            return lambda: None
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if algorithm == "value":
            return lambda: torch.nn.utils.clip_grad_value_(params, value)
        if algorithm != "norm":
            raise ValueError(f"gradient_clip_algorithm must be 'norm' or 'value', got {algorithm!r}")
        return lambda: torch.nn.utils.clip_grad_norm_(params, value)

    def _record(self, loss: torch.Tensor, x: torch.Tensor) -> None:
        self._losses.append(loss.detach())
        self._sizes.append(int(x.shape[0]))

    def _clip(self, optimizer: Any) -> None:
        if self.gradient_clip_val:
            self.clip_gradients(
                optimizer,
                gradient_clip_val=self.gradient_clip_val,
                gradient_clip_algorithm=self.gradient_clip_algorithm,
            )

    def configure_gradient_clipping(
        self,
        optimizer: Any,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        self._clip(optimizer)  # the module's settings (the Trainer's are always None here)

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
        if not self.automatic_optimization and self.scheduler_factory is not None:
            # Lightning steps schedulers itself only in its own loop; once per epoch, as configured there.
            scheduler = self.lr_schedulers()
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                monitored = self.trainer.callback_metrics.get("val/loss")
                if monitored is not None:
                    scheduler.step(monitored)
            else:
                scheduler.step()

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
