"""The LightningModule: trains the injected network on normalized targets, scores it in prices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from closecast.distributions.likelihood import Likelihood

# Network point forecasts `(n, horizon)`, last observed prices `(n,)` and future prices `(n, horizon)` →
# named price scores of the network before any calibration, logged each epoch as `val/raw/<name>`.
RawScores = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], dict[str, float]]


class ForecastModule(pl.LightningModule):
    """The injected `likelihood`'s training loss of the normalized targets (the negative log-likelihood of
    a distribution head, the MSE of a point network), stepped by Lightning's own loop (clipping,
    schedulers and precision are Trainer settings). Every epoch it logs `train/loss`, `val/loss` (that
    loss on validation) and, with `raw_scores`, the network's own validation scores of its point forecast
    (the location) before any calibration, as `val/raw/<name>`.

    The network answers each member's raw output (`member_outputs`); an ensemble (`model.members`)
    trains each member on its own loss: the training loss is the mean of the members' losses, so no
    member's gradient depends on another's. `val/loss` scores the combined output, the distribution that
    is served, so checkpointing and early stopping pick the served model."""

    def __init__(
        self,
        net: nn.Module,
        likelihood: Likelihood,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        raw_scores: RawScores | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.likelihood = likelihood
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.raw_scores = raw_scores
        self._outputs: list[tuple[torch.Tensor, ...]] = []
        # Each training batch's detached loss and size, averaged once per epoch into `train/loss`. A per-step
        # `self.log(..., on_epoch=True)` gives the same number with Lightning's logging bookkeeping on every
        # step, a visible share of a small network's step on a CPU; the epoch mean is all that is logged.
        self._losses: list[tuple[torch.Tensor, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def loss_fn(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The training loss of network outputs `out` against normalized targets `y`."""
        try:
            return self.likelihood.loss(out, y)
        except FloatingPointError as exc:
            raise FloatingPointError(
                f"{exc} in epoch {self.current_epoch} (by step {self.global_step}): training diverged; "
                "lower optimizer.lr or keep trainer.gradient_clip_val set"
            ) from None

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        losses = [self.loss_fn(out, y) for out in self.net.member_outputs(x)]
        # One network (the default) trains on its loss as it is: no stack and mean on every step.
        loss = losses[0] if len(losses) == 1 else torch.stack(losses).mean()
        self._losses.append((loss.detach(), x.shape[0]))
        return loss

    def on_train_epoch_start(self) -> None:
        self._losses = []

    def on_train_epoch_end(self) -> None:
        if self._losses:
            losses = torch.stack([loss for loss, _ in self._losses])
            sizes = torch.tensor([n for _, n in self._losses], dtype=losses.dtype, device=losses.device)
            self.log("train/loss", (losses * sizes).sum() / sizes.sum(), prog_bar=True)

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, y, last, future = batch
        self._outputs.append((self.net(x), y, last, future))

    def on_validation_epoch_end(self) -> None:
        if not self._outputs:
            return
        pred, y, last, future = (torch.cat(parts) for parts in zip(*self._outputs, strict=True))
        self._outputs.clear()
        loss = self.loss_fn(pred, y)
        if not torch.isfinite(loss):
            # A diverged run must fail loudly (a failed trial in a sweep), never checkpoint NaN weights:
            # this runs before the checkpoint callbacks of the epoch. Weights that went non-finite in any
            # training step make every validation prediction non-finite.
            raise FloatingPointError(
                f"validation loss became non-finite ({loss.item()}) in epoch {self.current_epoch} "
                f"(by step {self.global_step}): training diverged; lower optimizer.lr or keep "
                "trainer.gradient_clip_val set"
            )
        self.log("val/loss", loss, prog_bar=True)
        if self.raw_scores is None:
            return
        for name, value in self.raw_scores(self.likelihood.location(pred), last, future).items():
            self.log(f"val/raw/{name}", value)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss"}}
