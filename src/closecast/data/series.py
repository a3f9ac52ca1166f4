"""One price series of a run: read, cleaned, split by date, its codec fitted on its own training part and
every part windowed. A run holds one or several of these (`closecast.data.datamodule.PriceDataModule`);
each series' test part is scored after fitting, by `closecast.evaluation.assessment`, never through the
Trainer."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from closecast.data.checks import warn_if_tiny
from closecast.data.cleaning import clean_series
from closecast.data.codec import Codec
from closecast.data.high_low import high_low_tensor, with_high_low
from closecast.data.price_grid import warn_coarse_grid
from closecast.data.sources import CsvFormat, pick_feature, read_source
from closecast.data.splits import Split, min_length, sample_counts, split_sizes
from closecast.data.volatility import VOL_INPUTS, VolFit
from closecast.data.windows import WindowSet, make_windows
from closecast.errors import DataError

log = logging.getLogger(__name__)


class SeriesData:
    """One series: where it is read from and, once set up, its prices, split, codec, high/low and parts."""

    def __init__(
        self,
        source: str,
        ticker: str,
        path: str | None,
        start: str | None,
        end: str | None,
        feature: str,
        data_dir: str,
        window: int,
        horizon: int,
        target: str,
        features: list[str],
        ma_window: int,
        train_frac: float,
        val_frac: float,
        date_format: str | None,
        max_dropped_frac: float,
        max_gap_days: int | None = 10,
        max_daily_move: float | None = 2.5,
        duplicate_dates: str = "error",
        frame: pd.DataFrame | None = None,
        csv_format: CsvFormat | None = None,
        vol_input: str = "gjr_t",
        vol_fit: VolFit | None = None,
    ) -> None:
        if source == "csv" and path:
            ticker = Path(str(path)).stem  # a CSV series is named by its file, never the default ticker
        self.source, self.ticker, self.path = source, ticker, path
        # What error messages call it: its file, or its name in the file or dataset it is read from.
        self.name = str(path) if source == "csv" and path else ticker
        if source in ("panel", "skfolio"):
            self.name = f"series {ticker!r} of " + (f"{str(path)!r}" if source == "panel" else "skfolio")
        self.csv_format = csv_format  # how a CSV file is written (data.sep, data.decimal, data.date_column)
        self.frame = frame  # the raw frame, where a universe source has read it (else read at setup)
        self.start, self.end, self.feature, self.data_dir = start, end, feature, data_dir
        self.window, self.horizon, self.target = window, horizon, target
        self.features, self.ma_window = features, ma_window
        # `baseline_vol`'s model and what fits it on the training part (`arch`, above the data layer).
        self.vol_input, self.vol_fit = vol_input, vol_fit
        self.train_frac, self.val_frac = train_frac, val_frac
        self.date_format, self.max_dropped_frac = date_format, max_dropped_frac
        self.checks = {
            "max_gap_days": max_gap_days,
            "max_daily_move": max_daily_move,
            "duplicate_dates": duplicate_dates,
        }
        self.series: pd.Series | None = None
        self.split: Split | None = None
        self.codec: Codec | None = None
        self.high_low: pd.DataFrame | None = None  # each day's High and Low, read for range inputs only
        self.parts: dict[str, WindowSet] = {}

    def prepare_data(self) -> None:
        """Download (yahoo) into the cache once, before any process reads it."""
        if self.source == "yahoo":
            read_source(self.source, self.ticker, self.path, self.start, self.end, self.data_dir)

    def load_series(self) -> pd.Series:
        """Read and clean the configured series (no split, no statistics)."""
        frame = self.frame
        if frame is None:
            frame = read_source(
                self.source, self.ticker, self.path, self.start, self.end, self.data_dir, self.csv_format
            )
        self.feature = pick_feature(frame, self.feature, self.name)
        series = clean_series(
            frame,
            self.feature,
            self.start,
            self.end,
            self.name,
            self.date_format,
            self.max_dropped_frac,
            **self.checks,
        )
        series, self.high_low = with_high_low(
            frame, series, self.features, self.name, self.date_format, self.max_dropped_frac
        )
        warn_coarse_grid(series, self.name)
        return series

    def setup(self) -> None:
        """Load, clean, split by the configured fractions and window the series (idempotent)."""
        if self.parts:
            return
        series = self.load_series()
        self.check_length(series)
        self.use_series(series, split_sizes(len(series), self.train_frac, self.val_frac))
        warn_if_tiny(self.name, len(self.parts["test"]))

    def check_length(self, series: pd.Series) -> None:
        """Refuse `series` when it is too short for the window and the split by fractions."""
        need = min_length(self.window, self.horizon, self.train_frac, self.val_frac)
        if len(series) < need:
            dates = f" within data.start={self.start}, data.end={self.end}" if self.start or self.end else ""
            raise DataError(
                f"series {self.name!r} has {len(series)} rows after cleaning{dates}, but "
                f"window={self.window}, horizon={self.horizon} and split "
                f"{self.train_frac}/{self.val_frac}/rest need at least {need}; use a longer date range "
                "or a smaller data.window"
            )

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
        vol_params = self.fit_vol(prices.numpy(), n) if "baseline_vol" in self.features else None
        try:
            self.codec = Codec.fit(
                prices[:n],
                self.target,
                self.window,
                self.horizon,
                self.features,
                self.ma_window,
                hl,
                self.vol_input,
                vol_params,
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

    def fit_vol(self, prices: np.ndarray, n_train: int) -> dict[str, float]:
        """`baseline_vol`'s model `vol_input` fitted on the first `n_train` of `prices` by `vol_fit`."""
        if self.vol_input not in VOL_INPUTS:
            raise DataError(f"data.vol_input={self.vol_input!r} is not one of {list(VOL_INPUTS)}")
        if self.vol_fit is None:
            raise DataError(
                f"series {self.name!r}: data.features={self.features} include baseline_vol, whose "
                "volatility model is fitted with arch above the data layer; build the data through "
                "closecast.training (train.py) or pass "
                "vol_fit=closecast.evaluation.baseline_cache.fitted_vol"
            )
        return self.vol_fit(self.vol_input, prices, n_train)

    def describe(self) -> dict:
        """Plain metadata of this series and its split (for the artifact and metrics)."""
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

    def day_ranges(self) -> np.ndarray | None:
        """Each price's day's High and Low `(n_prices, 2)` (float64) where read (range inputs), else None."""
        hl = high_low_tensor(self.high_low, self.series.index, self.features, self.name)
        return None if hl is None else hl.numpy().T

    def recent(self, n: int) -> dict[str, list]:
        """The last `n` days as plain data, oldest first: ISO `dates`, `values` and, where read, each day's
        `high` and `low` (what the serving artifact keeps to draw and forecast a series' next closes)."""
        tail = self.series.iloc[-n:]
        out: dict[str, list] = {
            "dates": [str(d.date()) for d in tail.index],
            "values": [float(v) for v in tail.to_numpy(np.float64)],
        }
        if self.high_low is not None:
            days = self.high_low.loc[tail.index].to_numpy(np.float64)
            out |= {"high": days[:, 0].tolist(), "low": days[:, 1].tolist()}
        return out
