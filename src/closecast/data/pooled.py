"""Several series in one network (`data.tickers=[AAPL,GOOG,IBM,MSFT]`): each series is a `PriceDataModule`
of its own — cleaned, split by date and normalized on its own training part by its own codec, exactly as a
single series is — and the Trainer sees their training samples shuffled together and their validation
samples as one part (one validation loss for checkpointing and early stopping). After fitting, each series
is calibrated and scored on its own (`closecast.training.pooled`)."""

from __future__ import annotations

import logging
from typing import Any

import torch

from closecast.data.datamodule import PriceDataModule
from closecast.data.windows import WindowSet
from closecast.errors import DataError

log = logging.getLogger(__name__)


FIT_PARTS = ("train", "val")  # what the Trainer reads; each series' test part is scored on its own


def concat_windows(sets: list[WindowSet]) -> WindowSet:
    """The samples of several series' parts as one part (inputs and targets are already normalized, each
    by its own series' codec)."""
    return WindowSet(
        x=torch.cat([s.x for s in sets]),
        y=torch.cat([s.y for s in sets]),
        last=torch.cat([s.last for s in sets]),
        future=torch.cat([s.future for s in sets]),
        anchor_dates=[d for s in sets for d in s.anchor_dates],
    )


class PooledDataModule(PriceDataModule):
    """One `PriceDataModule` per ticker, batched as one: the batching (shuffling, DDP ranks, evaluation batch
    size, device) is `PriceDataModule`'s own, applied to the pooled train and validation parts.

    `codec` is the first series' codec and fixes only the network's shape (window, horizon, inputs), which
    every series shares; each series' own codec is `members[ticker].codec`.
    """

    def __init__(self, tickers: list[str] | tuple[str, ...], **series: Any) -> None:
        names = [str(t) for t in tickers]
        if not names:
            raise DataError(
                "data.tickers is an empty list; name the series, e.g. data.tickers=[AAPL,MSFT], "
                "or set data.tickers=null to train on data.ticker alone"
            )
        repeated = sorted({t for t in names if names.count(t) > 1})
        if repeated:
            raise DataError(f"data.tickers={names} lists {repeated} more than once; list each series once")
        if series.get("source") == "csv":
            raise DataError(
                f"data.tickers={names} with data.source=csv: a CSV file is one series (data.path); "
                "pool series from data.source=sample or data.source=yahoo, or set data.tickers=null"
            )
        super().__init__(**{**series, "ticker": names[0]})
        self.members = {t: PriceDataModule(**{**series, "ticker": t}) for t in names}

    def prepare_data(self) -> None:
        """Download (yahoo) every series into the cache once."""
        for member in self.members.values():
            member.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        """Set up every series on its own, then pool their train and validation samples (idempotent)."""
        if self.parts:
            return
        for member in self.members.values():
            member.setup(stage)
        self.codec = next(iter(self.members.values())).codec
        self.parts = {p: concat_windows([m.parts[p] for m in self.members.values()]) for p in FIT_PARTS}
        log.info(
            "pooled %d series %s: samples train=%d val=%d",
            len(self.members),
            ",".join(self.members),
            *(len(self.parts[p]) for p in FIT_PARTS),
        )
