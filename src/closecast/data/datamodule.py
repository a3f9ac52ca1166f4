"""The LightningDataModule of a run: one or several price series (`data.ticker=X` is a universe of one,
`data.tickers=[...]`, a panel file, several CSV files or the skfolio stocks one of several). Each series
is read and cleaned on its own; one calendar split, shared by every series, cuts them by date; each is
normalized on its own training part by its own codec (`closecast.data.series`). The Trainer sees their
training samples shuffled together and their validation samples as one part (one validation loss for
checkpointing and early stopping). Each series' test part is scored after fitting, on its own, never
through the Trainer."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from omegaconf import ListConfig

from closecast.data.batches import Batches
from closecast.data.checks import warn_if_tiny
from closecast.data.codec import Codec
from closecast.data.series import SeriesData
from closecast.data.sources import SOURCES, CsvFormat
from closecast.data.splits import Split, calendar_split, sample_counts
from closecast.data.universe import LAYOUTS, csv_paths, download_yahoo, read_panel
from closecast.data.volatility import VolFit
from closecast.data.windows import WindowSet, concat_windows
from closecast.errors import DataError

log = logging.getLogger(__name__)


EVAL_BATCH_SIZE = 4096  # smallest batch for validation (see `PriceDataModule._batches`)
FIT_PARTS = ("train", "val")  # what the Trainer reads; each series' test part is scored on its own


def ticker_list(
    ticker: str, tickers: list[str] | tuple[str, ...] | None, source: str, many: bool = False
) -> list[str] | None:
    """The series a run holds: `tickers` when given (checked), else `ticker` alone, or None (every series)
    for a source of `many` series."""
    if tickers is None:
        return None if many else [str(ticker)]
    names = [str(t) for t in tickers]
    if not names:
        raise DataError(
            "data.tickers is an empty list; name the series, e.g. data.tickers=[AAPL,MSFT], "
            "or set data.tickers=null to train on data.ticker alone (all series of a panel or skfolio)"
        )
    repeated = sorted({t for t in names if names.count(t) > 1})
    if repeated:
        raise DataError(f"data.tickers={names} lists {repeated} more than once; list each series once")
    if source == "csv" and not many:
        raise DataError(
            f"data.tickers={names} with one CSV file (data.path): a CSV file is one series; list several "
            "files (data.path=[a.csv,b.csv] or a pattern, data.path='prices/*.csv'), use one file of "
            "many series (data.source=panel), or set data.tickers=null"
        )
    return names


UNIVERSES = ("panel", "skfolio")  # sources of one file holding many series


def universe_members(
    source: str, ticker: str, tickers: list[str] | None, path, layout: str, fmt: CsvFormat | None = None
) -> list[tuple[str, str | None, pd.DataFrame | None]]:
    """(name, path, raw frame or None) of each series of the run, in order: a panel file's or skfolio's
    series are read here, several CSV files and Yahoo tickers when each series is set up."""
    if source in UNIVERSES:
        names = ticker_list(ticker, tickers, source, many=True)
        frames = read_panel(source, None if path is None else str(path), layout, names, fmt)
        return [(name, None if path is None else str(path), frame) for name, frame in frames.items()]
    files = csv_paths(path) if source == "csv" else None
    if files is not None:
        by_stem = {f.stem: f for f in files}
        chosen = ticker_list(ticker, tickers, source, many=True) or list(by_stem)
        missing = [t for t in chosen if t not in by_stem]
        if missing:
            raise DataError(
                f"data.tickers {missing} name none of the files of data.path (stems: {sorted(by_stem)})"
            )
        return [(t, str(by_stem[t]), None) for t in chosen]
    return [
        (name, None if path is None else str(path), None) for name in ticker_list(ticker, tickers, source)
    ]


class PriceDataModule(pl.LightningDataModule):
    """1..N price series → each series' chronological train/val/test windows (`members`, by ticker), and
    their pooled train and validation samples for the Trainer (`parts`)."""

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
        max_gap_days: int | None = 10,
        max_daily_move: float | None = 2.5,
        duplicate_dates: str = "error",
        layout: str = "auto",
        input_cache_mb: float = 512,
        sep: str | None = None,
        decimal: str | None = None,
        date_column: str | None = None,
        vol_input: str = "gjr_t",
        vol_fit: VolFit | None = None,
    ) -> None:
        super().__init__()
        if source not in SOURCES:
            raise DataError(f"data.source {source!r} is not one of {SOURCES}")
        if layout not in LAYOUTS:
            raise DataError(f"data.layout {layout!r} is not one of {LAYOUTS}")
        if batch_size < 1:
            raise DataError(f"data.batch_size must be positive, got {batch_size}")
        self.source, self.window, self.horizon = source, int(window), int(horizon)
        self.batch_size, self.on_device, self.seed = int(batch_size), bool(on_device), int(seed)
        self.train_frac, self.val_frac = float(train_frac), float(val_frac)
        self.input_cache_bytes = int(float(input_cache_mb) * 2**20)
        self.start, self.end = (str(start) if start else None), (str(end) if end else None)
        self.data_dir = data_dir
        path = [str(p) for p in path] if isinstance(path, list | tuple | ListConfig) else path
        tickers = None if tickers is None else [str(t) for t in tickers]
        fmt = CsvFormat(sep, decimal, date_column)
        members = [
            SeriesData(
                source=source,
                ticker=name,
                path=member_path,
                start=str(start) if start else None,
                end=str(end) if end else None,
                feature=feature,
                data_dir=data_dir,
                window=self.window,
                horizon=self.horizon,
                target=target,
                features=[str(f) for f in features],
                ma_window=int(ma_window),
                train_frac=float(train_frac),
                val_frac=float(val_frac),
                date_format=date_format,
                max_dropped_frac=float(max_dropped_frac),
                max_gap_days=None if max_gap_days is None else int(max_gap_days),
                max_daily_move=None if max_daily_move is None else float(max_daily_move),
                duplicate_dates=str(duplicate_dates),
                frame=frame,
                csv_format=fmt,
                vol_input=str(vol_input),
                vol_fit=vol_fit,
            )
            for name, member_path, frame in universe_members(source, ticker, tickers, path, layout, fmt)
        ]
        self.members: dict[str, SeriesData] = {m.ticker: m for m in members}
        self.parts: dict[str, WindowSet] = {}

    @property
    def codec(self) -> Codec | None:
        """The first series' codec: it fixes the network's shape (window, horizon, inputs, target), which
        every series shares; each series decodes by its own (`members[ticker].codec`)."""
        return next(iter(self.members.values())).codec

    @property
    def price_codec(self) -> Codec | None:
        """The codec that turns the validation part's outputs into prices: one series' own; several series
        have no single one (each decodes by its own), so None."""
        return self.codec if len(self.members) == 1 else None

    def prepare_data(self) -> None:
        """Download (yahoo) every series into the cache once, before any process reads it: several
        tickers in one request."""
        if self.source == "yahoo" and len(self.members) > 1:
            download_yahoo(list(self.members), self.start, self.end, Path(self.data_dir) / "cache")
            return
        for member in self.members.values():
            member.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        """Load and clean every series not set up yet, split them by one shared calendar (dropping, with a
        warning, those it leaves too short), then pool their train and validation samples (idempotent)."""
        if self.parts:
            return
        pending = {t: m for t, m in self.members.items() if not m.parts}
        if self.source == "yahoo" and len(pending) > 1:
            failed = download_yahoo(list(pending), self.start, self.end, Path(self.data_dir) / "cache")
            self._drop(failed, "Yahoo Finance returned no rows")
            pending = {t: m for t, m in pending.items() if t not in failed}
        if pending:
            loaded = {t: m.load_series() for t, m in pending.items()}
            if len(self.members) == 1:
                (member,) = pending.values()
                member.check_length(loaded[member.ticker])
            calendar, splits = calendar_split(
                {t: s.index for t, s in loaded.items()}, self.train_frac, self.val_frac
            )
            short = self._too_short(splits)
            self._drop(list(short), "too short for the shared calendar split", short)
            for ticker in [t for t in pending if t not in short]:
                self.members[ticker].use_series(loaded[ticker], splits[ticker])
                warn_if_tiny(self.members[ticker].name, len(self.members[ticker].parts["test"]))
            if len(self.members) > 1:
                log.info(
                    "one calendar split for %d series: validation from %s, test from %s",
                    len(self.members),
                    calendar.val_start.date(),
                    calendar.test_start.date(),
                )
        pooled = {p: concat_windows([m.parts[p] for m in self.members.values()]) for p in FIT_PARTS}
        # What the Trainer reads every epoch: encoded once where it fits the budget, else per batch.
        self.parts = {p: part.cached(self.input_cache_bytes) for p, part in pooled.items()}
        if len(self.members) > 1:
            log.info(
                "pooled %d series %s: samples train=%d val=%d",
                len(self.members),
                ",".join(self.members),
                *(len(self.parts[p]) for p in FIT_PARTS),
            )

    def _too_short(self, splits: dict[str, Split]) -> dict[str, tuple[int, int, int]]:
        counts = {t: sample_counts(split, self.window, self.horizon) for t, split in splits.items()}
        return {t: tuple(max(0, n) for n in c) for t, c in counts.items() if min(c) < 1}

    def _drop(self, tickers: list[str], why: str, counts: dict | None = None) -> None:
        """Remove `tickers` from the run with a warning naming them; none left stops the run."""
        if not tickers:
            return
        detail = ", ".join(f"{t} (train/val/test samples {counts[t]})" if counts else t for t in tickers)
        if len(tickers) == len(self.members):
            raise DataError(
                f"no series left: {why}: {detail}; use a longer date range (data.start, data.end), "
                "a smaller data.window or other series"
            )
        log.warning("dropped %d of %d series, %s: %s", len(tickers), len(self.members), why, detail)
        for ticker in tickers:
            del self.members[ticker]

    def _device(self) -> torch.device:
        trainer = getattr(self, "trainer", None)
        if self.on_device and trainer is not None:
            return trainer.strategy.root_device
        return torch.device("cpu")

    def _batches(self, part: str, train: bool, full: bool) -> Batches:
        ws = self.parts[part].to(self._device())
        tensors = (ws.x, ws.y) if not full else (ws.x, ws.y, ws.last, ws.future)
        rank, world, shuffle = 0, 1, train
        trainer = getattr(self, "trainer", None)
        if train and trainer is not None:
            rank, world = trainer.global_rank, trainer.world_size
            # `trainer.overfit_batches` means the same few batches every epoch: Lightning turns shuffling
            # off only for torch DataLoaders, so this loader does it itself.
            shuffle = not trainer.overfit_batches
        # Evaluation has no gradients to average, so it takes big batches: the same predictions in
        # fewer steps, each of which costs a fixed amount of framework overhead.
        size = self.batch_size if train else max(self.batch_size, EVAL_BATCH_SIZE)
        return Batches(tensors, size, shuffle, seed=self.seed, rank=rank, world=world)

    def train_dataloader(self) -> Batches:
        return self._batches("train", train=True, full=False)

    def val_dataloader(self) -> Batches:
        return self._batches("val", train=False, full=True)
