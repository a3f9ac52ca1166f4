"""Samples of one part of a series: input windows, normalized targets, last and future prices. Inputs are
encoded when read, from the price tensor (memory grows with the prices, not prices × window), or once
for the Trainer where they fit `data.input_cache_mb`; the rest are strided views or a few numbers per
sample (no Python loop over samples)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import torch

from closecast.data.codec import Codec


class WindowInputs:
    """The network inputs `(n, input_length, n_features)` of a part, encoded when indexed: `x[idx]` (a slice,
    an index tensor, an int, or a tuple starting with one) reads the input windows of those samples from
    the prices and encodes them with each sample's series' statistics.

    `prices` `(P,)` holds one or several series' prices end to end, `starts` `(n,)` the position of each
    sample's first input price and `series` `(n,)` its row in `stats` (mean, std `(S,)`; each channel's
    mean and std `(S, C)`; `baseline_vol`'s model `(S, V)`, `Codec.vol_state`); `high_low` `(2, P)` the
    same days' High and Low, for range inputs.
    """

    def __init__(
        self,
        codec: Codec,
        prices: torch.Tensor,
        starts: torch.Tensor,
        series: torch.Tensor,
        stats: tuple[torch.Tensor, ...],
        high_low: torch.Tensor | None = None,
    ) -> None:
        self.codec, self.prices, self.starts, self.series = codec, prices, starts, series
        self.stats, self.high_low = stats, high_low

    @classmethod
    def of_series(
        cls, codec: Codec, prices: torch.Tensor, rows: slice, high_low: torch.Tensor | None = None
    ) -> WindowInputs:
        """The inputs of one series' windows `rows` (row i: the input window starting at price i)."""
        stats = tuple(torch.tensor([v], dtype=torch.float64) for v in codec.stats())
        starts = torch.arange(rows.start, rows.stop)
        return cls(codec, prices, starts, torch.zeros_like(starts), stats, high_low)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self), self.codec.input_length, self.codec.n_features))

    @property
    def device(self) -> torch.device:
        return self.starts.device

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def __getitem__(self, key) -> torch.Tensor:
        rows, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if not isinstance(rows, torch.Tensor):
            rows = torch.arange(len(self), device=self.device)[rows]
        one = rows.dim() == 0
        x = self._encode(rows.reshape(-1))
        x = x[0] if one else x
        return x[rest] if rest else x

    def _encode(self, rows: torch.Tensor) -> torch.Tensor:
        span = torch.arange(self.codec.window, device=self.device)
        at = self.starts[rows, None] + span  # (B, window) positions in `prices`
        hl = () if self.high_low is None else (self.high_low[0][at], self.high_low[1][at])
        s = self.series[rows]
        mean, std, means, stds, vol = self.stats
        stats = (mean[s, None], std[s, None], *(v[s].T[..., None] for v in (means, stds, vol)))
        return self.codec.encode(self.prices[at], *hl, stats=stats)

    @property
    def nbytes(self) -> int:
        """The size of these inputs encoded all at once (float32)."""
        return 4 * self.shape.numel()

    def encoded(self, chunk: int = 65536) -> torch.Tensor:
        """Every input at once `(n, input_length, n_features)`, encoded a chunk of samples at a time."""
        return torch.cat([self[i : i + chunk] for i in range(0, max(len(self), 1), chunk)])

    def to(self, device: torch.device | str) -> WindowInputs:
        """Copy of these inputs (prices, positions, statistics) on `device`."""
        hl = None if self.high_low is None else self.high_low.to(device)
        stats = tuple(t.to(device) for t in self.stats)
        return WindowInputs(
            self.codec, self.prices.to(device), self.starts.to(device), self.series.to(device), stats, hl
        )

    @staticmethod
    def concat(inputs: list[WindowInputs]) -> WindowInputs:
        """The inputs of several parts (each with its own series' statistics) as one."""
        shifts = torch.tensor([0] + [len(i.prices) for i in inputs[:-1]]).cumsum(0)
        counts = torch.tensor([0] + [len(i.stats[0]) for i in inputs[:-1]]).cumsum(0)
        has_hl = all(i.high_low is not None for i in inputs)
        return WindowInputs(
            inputs[0].codec,
            torch.cat([i.prices for i in inputs]),
            torch.cat([i.starts + shift for i, shift in zip(inputs, shifts, strict=True)]),
            torch.cat([i.series + count for i, count in zip(inputs, counts, strict=True)]),
            tuple(torch.cat([i.stats[k] for i in inputs]) for k in range(5)),
            torch.cat([i.high_low for i in inputs], dim=1) if has_hl else None,
        )


@dataclass
class WindowSet:
    """Every sample of one part as tensors: inputs, normalized targets, last price, future prices."""

    x: WindowInputs | torch.Tensor
    y: torch.Tensor
    last: torch.Tensor
    future: torch.Tensor
    anchor_dates: pd.DatetimeIndex  # each sample's last observed day
    window_prices: torch.Tensor | None = None  # the raw input windows, for interval scaling
    anchors: slice | None = None  # positions in the series of the samples' last observed prices

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def cached(self, limit_bytes: int) -> WindowSet:
        """This set with its inputs encoded once where they take at most `limit_bytes` (indexing a tensor is
        cheaper than encoding every batch), else as they are (encoded per batch)."""
        if isinstance(self.x, WindowInputs) and self.x.nbytes <= limit_bytes:
            return replace(self, x=self.x.encoded())
        return self

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
    """Samples whose anchor index lies in `anchors`: targets from a strided view, inputs encoded per batch."""
    span = codec.window + codec.horizon
    all_windows = prices.unfold(0, span, 1)  # view: row i covers prices[i : i + span], anchor i + window - 1
    first = codec.window - 1
    rows = slice(anchors.start - first, anchors.stop - first)
    windows = all_windows[rows]
    return WindowSet(
        x=WindowInputs.of_series(codec, prices, rows, high_low),
        y=codec.target_of(windows),
        last=windows[:, codec.window - 1].clone(),
        future=windows[:, codec.window :].clone(),
        anchor_dates=dates[anchors],
        window_prices=windows[:, : codec.window],  # a view of `prices`: no copy
        anchors=anchors,
    )


def concat_windows(sets: list[WindowSet]) -> WindowSet:
    """The samples of several series' parts as one part (inputs and targets are already normalized, each
    by its own series' codec); one part is itself, uncopied."""
    if len(sets) == 1:
        return sets[0]
    return WindowSet(
        x=WindowInputs.concat([s.x for s in sets]),
        y=torch.cat([s.y for s in sets]),
        last=torch.cat([s.last for s in sets]),
        future=torch.cat([s.future for s in sets]),
        anchor_dates=sets[0].anchor_dates.append([s.anchor_dates for s in sets[1:]]),
    )
