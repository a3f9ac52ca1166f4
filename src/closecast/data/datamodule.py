"""The LightningDataModule of a run: one or several price series (`data.ticker=X` is a universe of one,
`data.tickers=[...]` one of several). Each series is read, cleaned, split by date and normalized on its
own training part by its own codec (`closecast.data.series`); the Trainer sees their training samples
shuffled together and their validation samples as one part (one validation loss for checkpointing and
early stopping). Each series' test part is scored after fitting, on its own, never through the Trainer."""

from __future__ import annotations

import logging

import pytorch_lightning as pl
import torch

from closecast.data.batches import Batches
from closecast.data.codec import Codec
from closecast.data.series import SeriesData
from closecast.data.sources import SOURCES
from closecast.data.windows import WindowSet, concat_windows
from closecast.errors import DataError

log = logging.getLogger(__name__)


EVAL_BATCH_SIZE = 4096  # smallest batch for validation (see `PriceDataModule._batches`)
FIT_PARTS = ("train", "val")  # what the Trainer reads; each series' test part is scored on its own


def ticker_list(ticker: str, tickers: list[str] | tuple[str, ...] | None, source: str) -> list[str]:
    """The series a run holds: `tickers` when given (checked), else `ticker` alone."""
    if tickers is None:
        return [str(ticker)]
    names = [str(t) for t in tickers]
    if not names:
        raise DataError(
            "data.tickers is an empty list; name the series, e.g. data.tickers=[AAPL,MSFT], "
            "or set data.tickers=null to train on data.ticker alone"
        )
    repeated = sorted({t for t in names if names.count(t) > 1})
    if repeated:
        raise DataError(f"data.tickers={names} lists {repeated} more than once; list each series once")
    if source == "csv":
        raise DataError(
            f"data.tickers={names} with data.source=csv: a CSV file is one series (data.path); "
            "pool series from data.source=sample or data.source=yahoo, or set data.tickers=null"
        )
    return names


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
    ) -> None:
        super().__init__()
        if source not in SOURCES:
            raise DataError(f"data.source {source!r} is not one of {SOURCES}")
        if batch_size < 1:
            raise DataError(f"data.batch_size must be positive, got {batch_size}")
        self.source, self.window, self.horizon = source, int(window), int(horizon)
        self.batch_size, self.on_device, self.seed = int(batch_size), bool(on_device), int(seed)
        members = [
            SeriesData(
                source=source,
                ticker=name,
                path=path,
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
            )
            for name in ticker_list(ticker, tickers, source)
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
        """Download (yahoo) every series into the cache once, before any process reads it."""
        for member in self.members.values():
            member.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        """Set up every series on its own (those not set up yet), then pool their train and validation
        samples (idempotent)."""
        if self.parts:
            return
        for member in self.members.values():
            member.setup()
        self.parts = {p: concat_windows([m.parts[p] for m in self.members.values()]) for p in FIT_PARTS}
        if len(self.members) > 1:
            log.info(
                "pooled %d series %s: samples train=%d val=%d",
                len(self.members),
                ",".join(self.members),
                *(len(self.parts[p]) for p in FIT_PARTS),
            )

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
