"""The series a forecaster answers: each trained series with its own codec and calibration (from the
artifact), a series the network never saw normalized by its own history, and several series' codecs
stacked so that one network call answers windows of many series."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from closecast.data.codec import Codec
from closecast.data.volatility import PARAMS
from closecast.distributions.calibration import Calibration
from closecast.distributions.predictive import LogReturnForecast
from closecast.distributions.served import Part, combined, served_quantiles
from closecast.distributions.volatility_filter import FilterSpec, filter_forecast, history_returns
from closecast.errors import InputError

# How a request's prices are normalized: `codec`, by the named series' training statistics (a series
# the network was trained on); `window`, by the request's own history (a series it never saw).
NORMALIZE = ("codec", "window")


# An unseen series' normalization is fitted on at least this many windows of its history: the spread of
# daily returns from 4 × 40 prices is within about 6% of its value (relative error ≈ 1/√(2n)).
HISTORY_WINDOWS = 4


NAMES_SHOWN = 20  # series names an error message lists before it says how many more there are


@dataclass(eq=False)
class SeriesModel:
    """One series as a forecast reads it: its codec, calibration, data range and metrics. `name` is None
    for a series the network never saw (normalized by the request's own history)."""

    name: str | None
    codec: Codec
    calibration: Calibration
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    # Its last days as the artifact keeps them (`dates`, `values`, maybe `high`/`low`); None when absent.
    history: dict[str, list] | None = None

    def __post_init__(self) -> None:
        self.residuals = self.calibration.residuals.double().numpy()
        # The combined baseline's filter (None when the network is served alone).
        self.spec = self.calibration.filter_spec() if self.calibration.weight < 1 else None
        pit, base_pit = self.calibration.pit, self.calibration.baseline_pit
        self.pit = None if pit is None else pit.double().numpy()
        self.baseline_pit = None if base_pit is None else base_pit.double().numpy()
        c = self.codec
        n = len(c.features)
        # The statistics one row of a stacked codec needs (`stacked_codec`), in a fixed order.
        self.stats = (
            c.mean,
            c.std,
            self.calibration.shrink,
            *(c.feature_std or [1.0] * n),
            *(c.feature_mean or [0.0] * n),
            *c.vol_state(),
        )
        # What this series' point forecast is, as every answer states it (`Calibration.describe_point`).
        self.point = self.calibration.describe_point()
        if self.name is None:
            self.point["why"] += "; a series the network never saw takes the trained series' smallest shrink"

    def serves(self) -> dict[str, Any]:
        """What this series' distribution answers are (`Calibration.describe`) and, where the metrics
        say, their test CRPS ratio to the reference baseline, DM statistic and 10% MCS membership."""
        scored = ("vs_reference", "dm_t", "in_mcs")
        metrics = self.metrics or {}
        return self.calibration.describe() | {
            k: metrics[f"test/served/{k}"]
            for k in scored
            if isinstance(metrics.get(f"test/served/{k}"), float)
        }

    @property
    def normalize(self) -> str:
        return "codec" if self.name is not None else "window"


def baseline_forecasts(specs: list[FilterSpec], values: list[np.ndarray], horizon: int) -> LogReturnForecast:
    """The combined baselines' forecasts `(n, horizon)` from each request's closes `values[i]` by its
    series' filter `specs[i]` (all of one process and history), in one filter over every row."""
    k = specs[0].history + 1
    rows = np.full((len(values), k), np.nan)
    for i, v in enumerate(values):
        tail = np.asarray(v, dtype=np.float64)[-k:]
        rows[i, k - tail.size :] = tail
    with np.errstate(invalid="ignore"):
        return filter_forecast(specs, history_returns(rows, specs[0].history), horizon)


def served_log_quantiles(
    models: list[SeriesModel], values: list[np.ndarray], dist: LogReturnForecast, levels: list[float]
) -> np.ndarray:
    """Quantiles of the log return `(n, horizon, L)` at nominal `levels` of the served distribution of
    rows `dist` `(n, horizon)`, row i of `models[i]`'s series with checked closes `values[i]`: the
    network's part recalibrated by each row's PIT values, and for a combination its baseline run over
    the closes sent at `1 - weight`, every row in one computation (`closecast.distributions.served`).

    Baselines of one process and history run in one filter call; those with Student-t degrees of
    freedom and those without are separate forecasts, so rows of each go through the average apart."""
    n, horizon = dist.loc.shape
    specs = [m.spec for m in models]
    weights = np.array(
        [1.0 if s is None else m.calibration.weight for m, s in zip(models, specs, strict=True)]
    )
    groups: dict[tuple, list[int]] = {}  # rows whose baselines one filter call runs together
    for i, spec in enumerate(specs):
        if spec is not None:
            groups.setdefault((spec.process, spec.history, "nu" in spec.params), []).append(i)
    blocks: dict[bool, list[tuple[list[int], LogReturnForecast]]] = {}
    for (_, _, has_nu), rows in groups.items():
        base = baseline_forecasts([specs[i] for i in rows], [values[i] for i in rows], horizon)
        blocks.setdefault(has_nu, []).append((rows, base))
    out = np.empty((n, horizon, len(levels)))
    kinds = list(blocks) or [False]
    for k, kind in enumerate(kinds):
        # The rows of this block: its baselines' and, with the first block, every row without one.
        inside = np.zeros(n, dtype=bool) if k else np.array([s is None for s in specs])
        base = None
        if kind in blocks:
            base = LogReturnForecast(*(np.ones((n, horizon)) for _ in range(3 if kind else 2)))
            for rows, fc in blocks[kind]:
                inside[rows] = True
                for whole, part in zip(base.parameters(), fc.parameters(), strict=False):
                    if whole is not None:
                        whole[rows] = part
        rows = slice(None) if inside.all() else np.flatnonzero(inside)
        picked = list(np.arange(n)[rows])
        parts = combined(
            Part(dist.rows(rows), [models[i].pit for i in picked]),
            None if base is None else base.rows(rows),
            [models[i].baseline_pit for i in picked],
            weights[rows],
        )
        out[rows] = served_quantiles(parts, levels)
    return out


def series_models(artifact: dict[str, Any]) -> dict[str, SeriesModel]:
    """Each series of a (checked) artifact by name, its codec and calibration rebuilt from plain data."""
    return {
        name: SeriesModel(
            name,
            Codec.from_dict(record["codec"]),
            Calibration.from_dict(record["calibration"]),
            dict(record["data"]),
            dict(record["metrics"]),
            record.get("history"),
        )
        for name, record in artifact["series"].items()
    }


def cautious_calibration(models: list[SeriesModel]) -> Calibration:
    """The calibration an unseen series is answered with: no series' validation vouches for it, so its
    move is shrunk as much as the most cautious series' (the smallest shrink), and a distribution head's
    quantiles are the network's own, not recalibrated (no PIT values)."""
    cautious = min(models, key=lambda m: m.calibration.shrink).calibration
    # A series the network never saw gets the network alone, as fitted: no baseline fitted on it.
    return dataclasses.replace(cautious, pit=None, weight=1.0, baseline=None, baseline_pit=None)


def min_history(window: int) -> int:
    """The fewest prices a request must send to be normalized by its own history (`HISTORY_WINDOWS`)."""
    return HISTORY_WINDOWS * window


def unseen_series(
    layout: Codec,
    calibration: Calibration,
    prices: np.ndarray,
    high_low: tuple[np.ndarray, np.ndarray] | None,
) -> SeriesModel:
    """A series the network never saw: a codec of `layout`'s shape fitted on all of the request's
    `prices` (and its High and Low, for range inputs), or `InputError` when they are too few or flat.
    `baseline_vol` runs `layout`'s fitted volatility model (none was fitted on this series), started from
    the request's own variance."""
    need = min_history(layout.window)
    if prices.size < need:
        raise InputError(
            f"normalize='window' fits the normalization on the request's own history: send at least "
            f"{need} values ({HISTORY_WINDOWS} × window={layout.window}), got {prices.size}"
        )
    hl = None if high_low is None else torch.from_numpy(np.stack(high_low))
    try:
        codec = Codec.fit(
            torch.from_numpy(prices),
            layout.target,
            layout.window,
            layout.horizon,
            layout.features,
            layout.ma_window,
            hl,
            layout.vol_input,
            layout.vol_filter.get("params"),
        )
    except ValueError as exc:
        raise InputError(
            f"normalize='window': {exc}; send a history whose prices move, or name a trained series"
        ) from None
    return SeriesModel(None, codec, calibration)


def pick_series(
    models: dict[str, SeriesModel], series: str | None = None, normalize: str | None = None
) -> SeriesModel | None:
    """The trained series of `models` a request names (the only one when `series` is None), or None for
    a series the network never saw (`normalize='window'`); `InputError` naming the series there are."""
    if normalize in (None, "codec") and series is not None:  # the usual case, first: one look-up
        found = models.get(series)
        if found is not None:
            return found
    mode = "codec" if normalize is None else normalize
    if mode not in NORMALIZE:
        raise InputError(f"normalize must be one of {list(NORMALIZE)}, got {normalize!r}")
    if mode == "window":
        if series is not None:
            raise InputError(
                f"series {series!r} with normalize='window': a named series is read by its own "
                "training codec; drop normalize, or drop series to answer a series the network never saw"
            )
        return None
    names = list(models)
    if series is None:
        if len(names) == 1:
            return models[names[0]]
        raise InputError(
            f"this checkpoint holds {len(names)} series ({known_names(names)}); name one "
            "with `series`, or send normalize='window' for a series the network never saw"
        )
    raise InputError(
        f"series {series!r} is not in this checkpoint (it holds {known_names(names)}); name "
        "one of those, or omit series and send normalize='window' for a series the network "
        "never saw"
    )


def known_names(names: list[str]) -> str:
    """`names` for an error message: the first `NAMES_SHOWN`, then how many more."""
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return shown + (f", … and {more} more (GET /models lists them)" if more > 0 else "")


def stacked_codec(models: list[SeriesModel]) -> tuple[Codec, Any]:
    """The codec and shrink for a stack of windows `(n, window)` whose row i belongs to `models[i]`.

    One series: its own codec and shrink. Several: a copy of the first codec whose statistics are
    columns `(n, 1)`, and the shrinks as a column: the codec's arithmetic broadcasts, so one `encode` and
    one `decode` read every row by its own series' numbers (the artifact schema checks that the series
    share the target, window, horizon and input features, the fields that stay scalars).
    """
    first = models[0]
    if all(m is first for m in models):
        return first.codec, first.calibration.shrink
    stats = torch.tensor([m.stats for m in models], dtype=torch.float64)
    n = len(first.codec.features)
    stacked = copy.copy(first.codec)
    stacked.mean, stacked.std = stats[:, 0:1], stats[:, 1:2]
    stacked.feature_std = [stats[:, 3 + j : 4 + j] for j in range(n)]
    stacked.feature_mean = [stats[:, 3 + n + j : 4 + n + j] for j in range(n)]
    if first.codec.vol_filter:  # `baseline_vol`'s model, each row by its own series' (`Codec.vol_state`)
        *params, start = (stats[:, k : k + 1] for k in range(3 + 2 * n, stats.shape[1]))
        stacked.vol_filter = {"params": dict(zip(PARAMS, params, strict=True)), "start": start}
    return stacked, stats[:, 2:3]
