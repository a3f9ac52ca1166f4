"""A loaded artifact ready to answer: the one inference path of the CLI and the server.

One network, one or many series: each window is read by its own series' codec and calibration (a series
the network never saw, by a codec fitted on the request's own history: `closecast.inference.series`), and
any number of windows, of any series, go through the network in one call."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from closecast.distributions.predictive import LogReturnForecast, log_return_forecast
from closecast.errors import InputError
from closecast.inference.answer import answer, spread_levels
from closecast.inference.inputs import (
    MAX_INTERVAL,
    check_high_low,
    check_horizon,
    check_interval,
    check_prices,
    check_quantiles,
    level_name,
    parse_device,
)
from closecast.inference.series import (
    SeriesModel,
    cautious_calibration,
    pick_series,
    series_models,
    served_log_quantiles,
    stacked_codec,
    unseen_series,
)
from closecast.models.lstm import LSTMForecaster

__all__ = ["MAX_INTERVAL", "Forecaster", "Item", "level_name", "parse_device"]


@dataclass
class Item:
    """One window to forecast: prices (oldest first), the series they are (None: the artifact's only
    one), how they are normalized (`closecast.inference.series.NORMALIZE`; None is `codec`) and, for range
    inputs, each day's High and Low."""

    values: Any
    series: str | None = None
    normalize: str | None = None
    high: Any = None
    low: Any = None


@dataclass(frozen=True)
class Options:
    """What a request asks of its windows, checked: the horizon, an optional central interval and
    optional quantile levels (in (0, 1), ascending); `spread`: the answer needs the distribution."""

    horizon: int
    interval: float | None = None
    levels: tuple[float, ...] = ()

    @property
    def spread(self) -> bool:
        return bool(self.levels) or self.interval is not None


@dataclass
class Prepared:
    """A checked item: its last window, that window's High and Low (range inputs) and its series."""

    window: np.ndarray
    high_low: tuple[np.ndarray, np.ndarray] | None
    model: SeriesModel
    values: np.ndarray  # every checked price sent: a combined baseline reads more than the window


class Forecaster:
    """A loaded artifact ready to answer: weights on a device, each series' codec and calibration at hand.

    A likelihood head (`student_t`, `skewed_t`, `gaussian`) answers intervals and quantiles from its
    predictive distribution, recalibrated on the series' validation part
    (`closecast.distributions.predictive`); a point network (`none`, and every artifact from before the
    head) from its conformal residuals.
    """

    def __init__(self, artifact: dict[str, Any], device: str | torch.device | None = None) -> None:
        self.device = device if isinstance(device, torch.device) else parse_device(device)
        self.series = series_models(artifact)
        self.names = list(self.series)
        # The fields every series shares (window, horizon, target, inputs): the first series' codec.
        self.layout = self.series[self.names[0]].codec
        self.net = LSTMForecaster(**artifact["model"])
        self.net.load_state_dict(artifact["state_dict"])
        self.net.eval().to(self.device)
        self.likelihood = self.net.likelihood
        self.unseen_calibration = cautious_calibration(list(self.series.values()))
        self.metadata = {k: v for k, v in artifact.items() if k not in ("state_dict", "series")}
        self.metadata["series"] = list(self.names)
        # Per series: what its distribution answers are, and how they scored against the reference.
        self.metadata["serves"] = {name: m.serves() for name, m in self.series.items()}

    @property
    def window(self) -> int:
        return self.layout.window

    @property
    def horizon(self) -> int:
        return self.layout.horizon

    @property
    def needs_high_low(self) -> bool:
        return self.layout.needs_high_low

    @property
    def inputs(self) -> list[str]:
        """The arrays a request gives this model: `values`, and `high` and `low` for range inputs."""
        return ["values", "high", "low"] if self.needs_high_low else ["values"]

    def model(self, series: str | None = None, normalize: str | None = None) -> SeriesModel | None:
        """The trained series a request names (`pick_series`), or None for an unseen one."""
        return pick_series(self.series, series, normalize)

    def metadata_of(self, series: str | None) -> dict[str, Any]:
        """The artifact's metadata as an answer for `series` carries it (None: a series the network never
        saw): its data range, metrics and validation choices (without their arrays)."""
        model = self.series.get(series) if series is not None else None
        if series is not None and model is None:
            self.model(series)  # raises, naming the series there are
        data = {} if model is None else model.data
        calibration = self.unseen_calibration if model is None else model.calibration
        return {
            **self.metadata,
            "series": series,
            "normalize": "window" if model is None else "codec",
            "ticker": data.get("ticker", series),
            "feature": data.get("feature"),
            "data": dict(data),
            "metrics": {} if model is None else dict(model.metrics),
            "calibration": {"shrink": calibration.shrink, "interval_scale": calibration.interval_scale},
            "serves": calibration.describe() if model is None else model.serves(),
        }

    def prepare(self, item: Item, spread: bool = False) -> Prepared:
        """The checked window of `item`, its High and Low and its series, or `InputError`; `spread`: the
        answer needs an interval or quantiles."""
        values = check_prices(item.values)
        model = self.model(item.series, item.normalize)
        if values.size < self.window:
            raise InputError(f"need at least window={self.window} values, got {values.size}")
        high_low = check_high_low(self.layout.features, item.high, item.low, values.size)
        if model is None:
            if spread and not self.likelihood.has_distribution:
                raise InputError(
                    "normalize='window': this checkpoint is a point network (model.likelihood=none), whose "
                    "intervals and quantiles come from a trained series' residuals; drop interval and "
                    "quantiles, or name a trained series"
                )
            model = unseen_series(self.layout, self.unseen_calibration, values, high_low)
        w = self.window
        last = None if high_low is None else (high_low[0][-w:], high_low[1][-w:])
        return Prepared(values[-w:], last, model, values)

    def outputs(
        self,
        windows: np.ndarray,
        models: list[SeriesModel] | None = None,
        distribution: bool = True,
        high_low: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, LogReturnForecast | None]:
        """Predicted prices `(n, horizon)` for checked windows `(n, window)` (and their checked High and
        Low `(n, window)` each, for range inputs), row i read by `models[i]` (default: the only series),
        and the predictive distribution of the log returns (None for a point network or without
        `distribution`), in one network call."""
        models = models or [self.model()] * len(windows)
        codec, shrink = stacked_codec(models)
        with torch.inference_mode():
            prices = torch.from_numpy(windows)
            ranges = [torch.from_numpy(a) for a in high_low or ()]
            raw = self.net(codec.encode(prices, *ranges).to(self.device)).cpu()
            point = codec.decode(self.likelihood.location(raw), prices[:, -1], shrink).numpy()
        if not (self.likelihood.has_distribution and distribution):
            return point, None
        if isinstance(shrink, torch.Tensor):  # the distribution's arithmetic is numpy's
            codec = copy.copy(codec)
            codec.std, shrink = codec.std.numpy(), shrink.numpy()
        return point, log_return_forecast(codec, self.likelihood, raw, shrink)

    def forecast(
        self,
        windows: np.ndarray,
        high_low: tuple[np.ndarray, np.ndarray] | None = None,
        models: list[SeriesModel] | None = None,
    ) -> np.ndarray:
        """Predicted prices `(n, horizon)` for checked windows `(n, window)`, in one network call.

        Encoding and decoding are elementwise, so a window's numbers do not depend on its neighbours;
        only the network's float32 sums may round differently in a batch (~1e-7 relative).
        """
        return self.outputs(windows, models, distribution=False, high_low=high_low)[0]

    def options(self, horizon: int | None = None, interval: Any = None, quantiles: Any = None) -> Options:
        """A request's horizon (default 1), interval and quantiles, checked in that order (`InputError`)."""
        h, checked = check_horizon(horizon, self.horizon), check_interval(interval)
        return Options(h, checked, tuple(check_quantiles(quantiles) or ()))

    def prepare_items(self, items: list[Item], spread: bool, label: str | None = "items") -> list[Prepared]:
        """Every item checked (`prepare`); `InputError` for a bad item starts with `<label>[i]: ` (with a
        `label`)."""
        prepared = []
        for i, item in enumerate(items):
            try:
                prepared.append(self.prepare(item, spread))
            except InputError as exc:
                if label is None:
                    raise
                raise InputError(f"{label}[{i}]: {exc}") from None
        return prepared

    def run(self, prepared: list[Prepared], spread: bool) -> tuple[np.ndarray, LogReturnForecast | None]:
        """Every prepared window through the network in one call: the predicted prices `(n, horizon)` and,
        with `spread`, the network's distribution rows."""
        windows = np.stack([p.window for p in prepared])
        high_low = None
        if self.needs_high_low:
            high_low = tuple(np.stack([p.high_low[k] for p in prepared]) for k in (0, 1))
        return self.outputs(windows, [p.model for p in prepared], distribution=spread, high_low=high_low)

    def forward(
        self, items: list[Item], spread: bool, label: str | None = "items"
    ) -> tuple[list[Prepared], np.ndarray, LogReturnForecast | None]:
        """Every item checked (`prepare_items`) and every window through the network in one call (`run`):
        the prepared items, the predicted prices `(n, horizon)` and, with `spread`, the distribution rows."""
        prepared = self.prepare_items(items, spread, label)
        return (prepared, *self.run(prepared, spread))

    def answer_prepared(self, prepared: list[Prepared], options: Options) -> list[dict[str, Any]]:
        """The answers for checked items, every window through the network in one call: each item's next
        `options.horizon` prices, with its interval and quantiles when asked."""
        o = options
        point, dist = self.run(prepared, o.spread)
        models, windows = [p.model for p in prepared], np.stack([p.window for p in prepared])
        levels = list(o.levels) or None
        spreads: list[np.ndarray | None] = [None] * len(prepared)
        if dist is not None:  # every item's quantiles and interval ends, in one computation
            moves = served_log_quantiles(
                models, [p.values for p in prepared], dist, spread_levels(o.interval, levels)
            )
            spreads = list(windows[:, -1, None, None] * np.exp(moves))
        return [
            answer(p.model, point[i], p.window, o.horizon, o.interval, levels, spreads[i], len(p.values))
            for i, p in enumerate(prepared)
        ]

    def predict_items(
        self,
        items: list[Item],
        horizon: int | None = None,
        interval: float | None = None,
        quantiles: Any = None,
        label: bool = True,
    ) -> list[dict[str, Any]]:
        """Forecast each item's next `horizon` prices, with an optional central interval and optional
        quantiles (levels in (0, 1)), every window through the network in one call; `InputError` for a
        bad item starts with `items[i]: ` (with `label`)."""
        options = self.options(horizon, interval, quantiles)
        prepared = self.prepare_items(items, options.spread, "items" if label else None)
        return self.answer_prepared(prepared, options)

    def predict(
        self,
        values: Any,
        horizon: int | None = None,
        interval: float | None = None,
        quantiles: Any = None,
        high: Any = None,
        low: Any = None,
        series: str | None = None,
        normalize: str | None = None,
    ) -> dict[str, Any]:
        """Forecast the next `horizon` prices after `values` of `series` (default: the artifact's only
        one; `normalize='window'`: a series the network never saw), with an optional central interval and
        optional quantiles. A model with range inputs needs the same days' `high` and `low`."""
        item = Item(values, series, normalize, high, low)
        return self.predict_items([item], horizon, interval, quantiles, label=False)[0]
