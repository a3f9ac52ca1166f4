"""One loaded artifact of the registry: its forecasters (one per device), what `/models` and every
answer report about it, and the warm-up forecast that proves it can answer before it is served."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from closecast.errors import InputError
from closecast.inference.forecaster import Forecaster, Item, parse_device
from closecast.serving.metrics import COALESCED, INFERENCE

METRIC_KEYS = ("mae", "rmse", "mape", "mase")
DATA_KEYS = ("start", "end", "train_end", "val_end")
# What /models reports of an artifact's input layout (its series share it). It never reports the training
# config, run directory or storage URLs.
LAYOUT_KEYS = ("features", "target")
# The warm-up asks what a client may ask: every series, the longest horizon, an interval and quantiles.
WARM_UP = {"interval": 0.9, "quantiles": [0.05, 0.5, 0.95]}
WARM_UP_SERIES = 256  # series per warm-up call: a universe's windows in bounded batches


class WarmUpError(ValueError):
    """An artifact that loads but cannot answer: a warm-up forecast failed or is not a finite number."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def series_context(name: str | None, record: dict[str, Any]) -> dict[str, Any]:
    """The part of a /predict answer for one series of an artifact (None: an unseen series)."""
    data, metrics = record["data"], record["metrics"]
    return {
        "series": name,
        "ticker": _text(data.get("ticker", name)),
        "feature": _text(data.get("feature")),
        "data": {k: _text(data.get(k)) for k in DATA_KEYS},
        "metrics": {k: _number(metrics.get(f"test/{k}")) for k in METRIC_KEYS},
    }


def warm_up(forecaster: Forecaster) -> None:
    """Answer one moving window of every series with an interval and quantiles over the whole horizon,
    or `WarmUpError`: an artifact whose answers are not finite (NaN weights, say) is refused at load, not
    blamed on each client's values."""
    w = forecaster.window
    # A gently moving history: a constant one would leave a volatility baseline with no spread.
    values = [100.0 * math.exp(0.01 * math.sin(i)) for i in range(w)]
    ranges = {"high": [v * 1.01 for v in values], "low": [v * 0.99 for v in values]}
    names = forecaster.names
    for start in range(0, len(names), WARM_UP_SERIES):
        items = [Item(values, name, None, **ranges) for name in names[start : start + WARM_UP_SERIES]]
        try:
            answers = forecaster.predict_items(items, forecaster.horizon, **WARM_UP)
        except (InputError, ValueError, RuntimeError, TypeError, IndexError) as exc:
            raise WarmUpError(f"a warm-up forecast fails ({' '.join(str(exc).split())})") from exc
        for item, answer in zip(items, answers, strict=True):
            numbers = answer["predictions"] + answer["lower"]
            if not all(map(math.isfinite, numbers)):
                raise WarmUpError(
                    f"series {item.series!r}: a warm-up forecast is not a finite number (NaN or infinite "
                    "weights or statistics); publish it again from a training run"
                )


@dataclass
class Entry:
    """One loaded artifact: its forecasters (one per device) and what we report about it."""

    name: str
    path: Path
    stamp: tuple[int, int, int]
    artifact: dict[str, Any]
    sha256: str
    forecasters: dict[str, Forecaster] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # This checkpoint's series of the inference-time histogram, looked up once rather than per request.
        self.inference_seconds = INFERENCE.labels(self.name)
        self.coalesced = COALESCED.labels(self.name)
        forecaster = self.forecasters["cpu"] = Forecaster(self.artifact, "cpu")
        # One forecast now: the first client does not wait for the kernels' one-time setup, and a file
        # that cannot answer is refused here rather than served.
        warm_up(forecaster)
        art = self.artifact
        # The part of every /predict answer that depends only on the artifact, then on the series.
        self.context = {"checkpoint": self.name, "window": art["window"], "horizon_max": art["horizon"]}
        self.series_context: dict[str | None, dict[str, Any]] = {
            name: series_context(name, record) for name, record in art["series"].items()
        }
        self.series_context[None] = series_context(None, {"data": {}, "metrics": {}})
        only = next(iter(art["series"].values())) if len(art["series"]) == 1 else None
        layout = next(iter(art["series"].values()))["codec"]
        self.info = {
            "name": self.name,
            "sha256": self.sha256,
            "size_bytes": self.stamp[1],
            "modified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.stamp[0] / 1e9)),
            "window": art["window"],
            "horizon": art["horizon"],
            **{k: layout.get(k) for k in LAYOUT_KEYS},
            # One series: its ticker, feature and data range here too, as before series were listed.
            **{k: _text(only["data"].get(k)) if only else None for k in ("ticker", "feature")},
            "data": {k: _text(only["data"].get(k)) if only else None for k in DATA_KEYS},
            "created": art.get("created"),
            "inputs": forecaster.inputs,  # the request arrays this model reads
            "series": [
                {
                    "name": name,
                    **{k: v for k, v in self.series_context[name].items() if k != "series"},
                    "point": forecaster.series[name].point,
                    "serves": forecaster.metadata["serves"][name],
                }
                for name in art["series"]
            ],
            "model": dict(art["model"]),
            "metrics": {k: _number(v) for k, v in art["metrics"].items()},
            "versions": dict(art["versions"]),
        }
        try:  # what /models and /predict answer must render as JSON (a lone surrogate cannot)
            JSONResponse(jsonable_encoder(self.info))
        except (UnicodeError, ValueError, TypeError) as exc:
            raise WarmUpError(f"its metadata cannot be answered as JSON ({exc})") from None

    def forecaster(self, device: str | None) -> Forecaster:
        """The forecaster on `device` (built from the in-memory artifact), or `InputError`."""
        found = self.forecasters.get(device or "cpu")
        if found is not None:
            return found
        dev = parse_device(device)
        # One key per real device: `cpu:7` is the CPU and must not build a forecaster of its own.
        key = "cpu" if dev.type == "cpu" else str(dev)
        found = self.forecasters.get(key) or Forecaster(self.artifact, dev)
        self.forecasters[key] = found
        return found
