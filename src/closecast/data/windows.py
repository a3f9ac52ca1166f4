"""Samples of one part of a series: input windows, normalized targets, last and future prices, built as
strided views of the price tensor (no Python loop over samples)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from closecast.data.codec import Codec
from closecast.data.high_low import high_low_windows


@dataclass
class WindowSet:
    """Every sample of one part as tensors: inputs, normalized targets, last price, future prices."""

    x: torch.Tensor
    y: torch.Tensor
    last: torch.Tensor
    future: torch.Tensor
    anchor_dates: list
    window_prices: torch.Tensor | None = None  # the raw input windows, for interval scaling
    anchors: slice | None = None  # positions in the series of the samples' last observed prices

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str) -> WindowSet:
        """Copy of this set on `device`."""
        return WindowSet(
            self.x.to(device),
            self.y.to(device),
            self.last.to(device),
            self.future.to(device),
            self.anchor_dates,
            self.window_prices,  # read on the CPU only, when intervals are calibrated
            self.anchors,
        )


def make_windows(
    prices: torch.Tensor,
    codec: Codec,
    anchors: slice,
    dates: pd.DatetimeIndex,
    high_low: torch.Tensor | None = None,
) -> WindowSet:
    """Samples whose anchor index lies in `anchors`, built from a strided view (no Python loop)."""
    span = codec.window + codec.horizon
    all_windows = prices.unfold(0, span, 1)  # view: row i covers prices[i : i + span], anchor i + window - 1
    first = codec.window - 1
    rows = slice(anchors.start - first, anchors.stop - first)
    windows = all_windows[rows]
    return WindowSet(
        x=codec.encode(windows[:, : codec.window], *high_low_windows(high_low, codec.window, rows)),
        y=codec.target_of(windows),
        last=windows[:, codec.window - 1].clone(),
        future=windows[:, codec.window :].clone(),
        anchor_dates=list(dates[anchors]),
        window_prices=windows[:, : codec.window],  # a view of `prices`: no copy
        anchors=anchors,
    )


def concat_windows(sets: list[WindowSet]) -> WindowSet:
    """The samples of several series' parts as one part (inputs and targets are already normalized, each
    by its own series' codec); one part is itself, uncopied."""
    if len(sets) == 1:
        return sets[0]
    return WindowSet(
        x=torch.cat([s.x for s in sets]),
        y=torch.cat([s.y for s in sets]),
        last=torch.cat([s.last for s in sets]),
        future=torch.cat([s.future for s in sets]),
        anchor_dates=[d for s in sets for d in s.anchor_dates],
    )
