"""The LightningDataModule of one series: read, clean, split by date, fit the codec on the training part,
window every part (the test part is scored after fitting, by `closecast.evaluation.assessment`,
never through the Trainer)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from closecast.data.batches import Batches
from closecast.data.cleaning import clean_series
from closecast.data.codec import Codec
from closecast.data.high_low import high_low_tensor, with_high_low
from closecast.data.sources import SOURCES, pick_feature, read_source
from closecast.data.splits import Split, min_length, sample_counts, split_sizes
from closecast.data.windows import WindowSet, make_windows
from closecast.errors import DataError

log = logging.getLogger(__name__)


EVAL_BATCH_SIZE = 4096  # smallest batch for validation (see `PriceDataModule._batches`)


class PriceDataModule(pl.LightningDataModule):
    """One price series → chronological train/val/test windows, normalization fitted on train only."""

    def __init__(
        self,
        source: str = "sample",
        ticker: str = "AAPL",
        path: str | None = None,
        start: str | None = None,
        end: str | None = None,
        feature: str = "auto",
        data_dir: str = "data",
        window: int = 30,
        horizon: int = 1,
        target: str = "return",
        features: list[str] | tuple[str, ...] = ("return",),
        ma_window: int = 20,
        train_frac: float = 0.7,
        val_frac: float = 0.15,
        batch_size: int = 64,
        on_device: bool = True,
        seed: int = 0,
        date_format: str | None = None,
        max_dropped_frac: float = 0.01,
        tickers: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        super().__init__()
        if tickers:  # several series: `closecast.data.pooled.PooledDataModule` holds one of these per series
            raise DataError(
                f"data.tickers={list(tickers)} pools several series into one network, which only training "
                "(python train.py) does; for one series here set data.ticker=<TICKER> data.tickers=null"
            )
        if source not in SOURCES:
            raise DataError(f"data.source {source!r} is not one of {SOURCES}")
        if batch_size < 1:
            raise DataError(f"data.batch_size must be positive, got {batch_size}")
        if source == "csv" and path:
            ticker = Path(str(path)).stem  # a CSV series is named by its file, never the default ticker
        self.source, self.ticker, self.path = source, ticker, path
        self.name = str(path) if source == "csv" and path else ticker  # what error messages call it
        self.date_format, self.max_dropped_frac = date_format, float(max_dropped_frac)
        self.start = str(start) if start else None
        self.end = str(end) if end else None
        self.feature, self.data_dir = feature, data_dir
        self.window, self.horizon, self.target = int(window), int(horizon), target
        self.features, self.ma_window = [str(f) for f in features], int(ma_window)
        self.train_frac, self.val_frac = float(train_frac), float(val_frac)
        self.batch_size, self.on_device, self.seed = int(batch_size), bool(on_device), int(seed)
        self.series: pd.Series | None = None
        self.codec: Codec | None = None
        self.high_low: pd.DataFrame | None = None  # each day's High and Low, read for range inputs only
        self.parts: dict[str, WindowSet] = {}

    def prepare_data(self) -> None:
        """Download (yahoo) into the cache once, before any process reads it."""
        if self.source == "yahoo":
            read_source(self.source, self.ticker, self.path, self.start, self.end, self.data_dir)

    def load_series(self) -> pd.Series:
        """Read and clean the configured series (no split, no statistics)."""
        frame = read_source(self.source, self.ticker, self.path, self.start, self.end, self.data_dir)
        self.feature = pick_feature(frame, self.feature, self.name)
        series = clean_series(
            frame, self.feature, self.start, self.end, self.name, self.date_format, self.max_dropped_frac
        )
        series, self.high_low = with_high_low(
            frame, series, self.features, self.name, self.date_format, self.max_dropped_frac
        )
        return series

    def setup(self, stage: str | None = None) -> None:
        """Load, clean, split and window the series (idempotent)."""
        if self.parts:
            return
        series = self.load_series()
        need = min_length(self.window, self.horizon, self.train_frac, self.val_frac)
        if len(series) < need:
            raise DataError(
                f"series {self.name!r} has {len(series)} rows after cleaning, but window={self.window}, "
                f"horizon={self.horizon} and split {self.train_frac}/{self.val_frac}/rest need at least "
                f"{need}; use a longer date range or a smaller data.window"
            )
        self.use_series(series, split_sizes(len(series), self.train_frac, self.val_frac))

    def use_series(self, series: pd.Series, split: Split) -> None:
        """Window `series` by an explicit split (the backtest's folds); the codec sees train prices only."""
        if split.n_train + split.n_val + split.n_test != len(series):
            raise DataError(f"split {split} does not cover the {len(series)} prices of the series")
        counts = sample_counts(split, self.window, self.horizon)
        if min(counts) < 1:
            raise DataError(
                f"split {split} with window={self.window}, horizon={self.horizon} leaves a part without "
                f"samples (train/val/test samples: {counts}); use fewer folds or a smaller data.window"
            )
        self.series = series
        prices = torch.tensor(series.to_numpy(dtype=np.float64))
        self.split = split
        hl, n = high_low_tensor(self.high_low, series.index, self.features, self.name), split.n_train
        try:
            self.codec = Codec.fit(
                prices[:n], self.target, self.window, self.horizon, self.features, self.ma_window, hl
            )
        except ValueError as exc:  # constant prices (or returns) leave no scale to normalize by
            first, last = series.index[0].date(), series.index[split.n_train - 1].date()
            raise DataError(
                f"series {self.name!r}, training part {first}..{last}: {exc}; its prices do not move "
                f"(data.target={self.target}, data.features={self.features}); use a series that varies, "
                "a longer date range or valid data.features"
            ) from exc
        w, h = self.window, self.horizon
        bounds = {
            "train": slice(w - 1, split.n_train - h),
            "val": slice(split.n_train - 1, split.n_train + split.n_val - h),
            "test": slice(split.n_train + split.n_val - 1, len(series) - h),
        }
        self.parts = {k: make_windows(prices, self.codec, s, series.index, hl) for k, s in bounds.items()}
        log.info(
            "%s %s: %d prices %s..%s; samples train=%d val=%d test=%d",
            self.ticker,
            self.feature,
            len(series),
            series.index[0].date(),
            series.index[-1].date(),
            *(len(self.parts[k]) for k in ("train", "val", "test")),
        )

    def describe(self) -> dict:
        """Plain metadata of the data this module serves (for the artifact and metrics)."""
        s = self.series
        idx = s.index
        return {
            "source": self.source,
            "ticker": self.ticker,
            "feature": self.feature,
            "start": str(idx[0].date()),
            "end": str(idx[-1].date()),
            "train_end": str(idx[self.split.n_train - 1].date()),
            "val_end": str(idx[self.split.n_train + self.split.n_val - 1].date()),
            "rows": int(len(s)),
            "samples": {k: len(v) for k, v in self.parts.items()},
        }

    def _device(self) -> torch.device:
        trainer = getattr(self, "trainer", None)
        if self.on_device and trainer is not None:
            return trainer.strategy.root_device
        return torch.device("cpu")

    def _batches(self, part: str, shuffle: bool, full: bool) -> Batches:
        ws = self.parts[part].to(self._device())
        tensors = (ws.x, ws.y) if not full else (ws.x, ws.y, ws.last, ws.future)
        rank, world = 0, 1
        trainer = getattr(self, "trainer", None)
        if shuffle and trainer is not None:
            rank, world = trainer.global_rank, trainer.world_size
        # Evaluation has no gradients to average, so it takes big batches: the same predictions in
        # fewer steps, each of which costs a fixed amount of framework overhead.
        size = self.batch_size if shuffle else max(self.batch_size, EVAL_BATCH_SIZE)
        return Batches(tensors, size, shuffle, seed=self.seed, rank=rank, world=world)

    def train_dataloader(self) -> Batches:
        return self._batches("train", shuffle=True, full=False)

    def val_dataloader(self) -> Batches:
        return self._batches("val", shuffle=False, full=True)
