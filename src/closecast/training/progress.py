"""How a run shows its progress: Lightning's TQDM bar on a terminal, and one plain line per epoch when
stdout is a log file or CI's, where the bar's carriage-return redraws would fill the file."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ProgressBar, TQDMProgressBar

log = logging.getLogger(__name__)


def epoch_line(epoch: int, max_epochs: int | None, metrics: dict[str, Any], seconds: float) -> str:
    """`epoch 3 of 40: train/loss=1.46 val/loss=1.35 (0.4 s)`: one finished epoch, numbered from 0 as
    Lightning, checkpoints and a sweep's pruner number them."""
    total = f" of {max_epochs}" if max_epochs and max_epochs > 0 else ""
    values = [f"{k}={float(v):.4g}" for k, v in sorted(metrics.items())]
    return " ".join([f"epoch {epoch}{total}:", *values, f"({seconds:.1f} s)"])


class EpochLines(ProgressBar):
    """A progress bar that draws nothing and logs one line per training epoch, through the job's logger
    (console and train.log): the values the module shows in the bar (`prog_bar=True`).

    The module logs `train/loss` in its own `on_train_epoch_end`, which Lightning calls after this
    callback's, so an epoch's line is written once the epoch is over: when the next one starts, or when
    training ends or stops.
    """

    def __init__(self) -> None:
        super().__init__()
        self._enabled = True
        self._started = time.monotonic()
        self._pending: tuple[int, float] | None = None  # a finished epoch and its seconds

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _flush(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._pending is None:
            return
        (epoch, seconds), self._pending = self._pending, None
        metrics = {k: v for k, v in self.get_metrics(trainer, pl_module).items() if k != "v_num"}
        log.info(epoch_line(epoch, trainer.max_epochs, metrics, seconds))

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._flush(trainer, pl_module)
        self._started = time.monotonic()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._enabled and not trainer.sanity_checking:
            self._pending = (trainer.current_epoch, time.monotonic() - self._started)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._flush(trainer, pl_module)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._flush(trainer, pl_module)


STYLES = ("auto", "bar", "lines")


def progress_bar(refresh_rate: int = 10, style: str = "auto") -> ProgressBar:
    """Lightning's TQDM bar (redrawn every `refresh_rate` steps) or `EpochLines`: `style` auto picks the
    bar when stdout is a terminal, so `make train > log 2>&1` writes lines, not redraws."""
    if style not in STYLES:
        raise ValueError(f"callbacks.progress_bar.style={style!r}: use one of {', '.join(STYLES)}")
    if style == "bar" or (style == "auto" and sys.stdout.isatty()):
        return TQDMProgressBar(refresh_rate=refresh_rate)
    return EpochLines()
