"""The console progress bar of a training run, redrawn on a clock rather than every few steps."""

from __future__ import annotations

import math
import time
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import TQDMProgressBar


class ThrottledProgressBar(TQDMProgressBar):
    """Lightning's TQDM bar, redrawn at most every `min_interval_s` seconds and at the end of each bar.

    A redraw reads every progress-bar metric and writes the terminal line (twice, for the count and the
    postfix); at a fixed step interval that costs a few percent of a small model's step on a CPU and more
    on a GPU, where steps take milliseconds. On a clock it costs nothing measurable at any step speed.
    It counts optimizer steps, also when one training-step call makes several (`steps_per_call`).
    """

    def __init__(
        self,
        min_interval_s: float = 0.5,
        refresh_rate: int = 1,
        process_position: int = 0,
        leave: bool = False,
    ) -> None:
        super().__init__(refresh_rate=refresh_rate, process_position=process_position, leave=leave)
        if min_interval_s < 0:
            raise ValueError(f"progress bar min_interval_s must be >= 0 seconds, got {min_interval_s}")
        self.min_interval_s = float(min_interval_s)
        self._last_draw = -float("inf")

    def _should_update(self, current: int, total: int) -> bool:
        # Lightning's own test first (bar enabled, every `refresh_rate` steps, always at the last step).
        if not super()._should_update(current, total):
            return False
        now = time.monotonic()
        if current == total or now - self._last_draw >= self.min_interval_s:
            self._last_draw = now
            return True
        return False

    def _steps_per_call(self) -> int:
        module = self.trainer.lightning_module if self._trainer is not None else None
        return int(getattr(module, "steps_per_call", 1) or 1)

    @property
    def total_train_batches(self) -> int | float:
        """Optimizer steps per epoch (Lightning counts training-step calls)."""
        calls = super().total_train_batches
        k = self._steps_per_call()
        if k == 1 or not math.isfinite(calls):
            return calls
        loader = self.trainer.train_dataloader
        steps = getattr(loader, "n", None), getattr(loader, "batch_size", None)
        full = math.ceil(steps[0] / steps[1]) if all(steps) else calls * k
        return min(calls * k, full)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        k = self._steps_per_call()
        if k > 1 and self.train_progress_bar is not None:
            total = self.train_progress_bar.total
            done = (batch_idx + 1) * k
            batch_idx = (min(done, total) if total else done) - 1  # the bar shows steps done
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
