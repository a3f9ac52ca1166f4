"""What calibration chose on the validation part, as one plain-data record beside the codec.

The codec holds what was fitted on the training part; this record holds what was chosen on validation:
the shrink of the network's move toward naive, how conformal residuals are scaled, the sorted conformal
residuals themselves and, for a distribution head, the sorted validation PIT values that recalibrate its
quantiles (`closecast.distributions.predictive`). Scoring and serving read the same record, and it
travels in the serving artifact under its own key (`to_dict` / `from_dict`, tensors only)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import torch

from closecast.distributions.volatility_filter import FilterSpec

INTERVAL_SCALES = ("none", "window")
# What a point forecast is, by its shrink: 0, 1, or between (`Calibration.describe_point`).
POINT_SOURCES = ("naive", "network", "shrunk")


@dataclass
class Calibration:
    """Validation choices: `shrink` in [0, 1], `interval_scale` (`INTERVAL_SCALES`), `residuals` the
    sorted absolute log residuals `(n, horizon)` and `pit` the sorted PIT values `(n >= 2, horizon)` that
    recalibrate a distribution head's quantiles (None: served as fitted; always None for a point network)."""

    residuals: torch.Tensor
    shrink: float = 1.0
    # `none`: plain log residuals; `window`: each divided by the volatility of its input window, so
    # intervals widen in turbulent periods and narrow in calm ones.
    interval_scale: str = "none"
    pit: torch.Tensor | None = None
    # The served distribution's network weight in a quantile average with a volatility baseline run over
    # the request's closes (`baseline`: a `FilterSpec` as plain data, with its `name`), recalibrated by
    # its own sorted validation PIT values `baseline_pit`; 1 serves the network alone.
    weight: float = 1.0
    baseline: dict[str, Any] | None = None
    baseline_pit: torch.Tensor | None = None
    # Why validation chose `shrink`, in words (`closecast.evaluation.shrink.shrink_choice`); None in
    # artifacts written before it was recorded.
    shrink_why: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.shrink, bool) or not isinstance(self.shrink, int | float):
            raise ValueError(f"calibration shrink must be a number in [0, 1], got {self.shrink!r}")
        self.shrink = float(self.shrink)
        if not (math.isfinite(self.shrink) and 0.0 <= self.shrink <= 1.0):
            raise ValueError(f"calibration shrink must be a number in [0, 1], got {self.shrink}")
        if self.interval_scale not in INTERVAL_SCALES:
            raise ValueError(
                f"calibration.interval_scale={self.interval_scale!r} is not one of {INTERVAL_SCALES}"
            )
        if self.shrink_why is not None and not isinstance(self.shrink_why, str):
            raise ValueError(f"calibration shrink_why must be a string, got {type(self.shrink_why).__name__}")
        self._check_combination()
        r = self.residuals
        if not isinstance(r, torch.Tensor) or r.ndim != 2 or not r.is_floating_point():
            raise ValueError(f"calibration residuals must be a float tensor (n, horizon), got {_shape(r)}")
        pit = self.pit
        if pit is None:
            return
        if (
            not isinstance(pit, torch.Tensor)
            or pit.ndim != 2
            or pit.shape[0] < 2
            or pit.shape[1] != r.shape[1]
            or not pit.is_floating_point()
        ):
            raise ValueError(
                f"calibration pit must be a float tensor (n >= 2, {r.shape[1]}), got {_shape(pit)}"
            )
        if not bool(((pit >= 0) & (pit <= 1)).all()):
            raise ValueError("calibration pit holds values outside [0, 1]; they are probabilities")

    def _check_combination(self) -> None:
        w = self.weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not (math.isfinite(w) and 0 <= w <= 1):
            raise ValueError(f"calibration weight must be a number in [0, 1], got {w!r}")
        self.weight = float(w)
        if self.weight < 1:
            if not isinstance(self.baseline, dict):
                raise ValueError(
                    f"calibration weight {self.weight} < 1 needs its baseline, got {self.baseline!r}"
                )
            self.filter_spec()  # a ValueError naming what is wrong with it
        pit = self.baseline_pit
        if pit is not None and (not isinstance(pit, torch.Tensor) or pit.ndim != 2 or pit.shape[0] < 2):
            raise ValueError(
                f"calibration baseline_pit must be a float tensor (n >= 2, horizon), got {_shape(pit)}"
            )

    def filter_spec(self) -> FilterSpec | None:
        """The combined baseline as a `FilterSpec` (None when the network is served alone)."""
        if self.baseline is None:
            return None
        spec = {k: v for k, v in self.baseline.items() if k != "name"}
        try:
            return FilterSpec(**spec)
        except TypeError as exc:
            raise ValueError(f"calibration baseline {sorted(self.baseline)} is malformed ({exc})") from None

    def describe(self) -> dict[str, Any]:
        """What the served distribution is: `network`, `baseline` or their `combination`, with the
        network's weight and the baseline's name and history."""
        weight, base = self.weight, self.baseline
        kind = "network" if weight == 1 or base is None else "baseline" if weight == 0 else "combination"
        out: dict[str, Any] = {"kind": kind, "network_weight": weight}
        return out | ({"baseline": base["name"], "history": base["history"]} if kind != "network" else {})

    def describe_point(self) -> dict[str, Any]:
        """What the point forecast is: `source` `naive` (shrink 0: the last price, at every step),
        `network` (shrink 1: the network's own move) or `shrunk` (its move scaled by `shrink`), and `why`."""
        s = self.shrink
        source = POINT_SOURCES[0] if s == 0 else POINT_SOURCES[1] if s == 1 else POINT_SOURCES[2]
        what = {
            "naive": "the naive forecast (the last price sent, at every step)",
            "network": "the network's own forecast",
            "shrunk": f"the network's move scaled by {s:g} toward the last price sent",
        }[source]
        why = self.shrink_why or "validation chose it (this artifact predates recording why)"
        return {"source": source, "shrink": s, "why": f"{what}, because {why}"}

    @property
    def horizon(self) -> int:
        """Horizon steps the residuals (and PIT values) cover."""
        return int(self.residuals.shape[1])

    def residual_scale(self, windows: torch.Tensor) -> torch.Tensor:
        """Input windows of prices `(..., window)` → the factor `(...)` (float64) conformal residuals are
        divided by under this record's `interval_scale`."""
        return residual_scale(windows, self.interval_scale)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `torch.load(weights_only=True)`; the arrays as float32 tensors."""
        return {
            "shrink": self.shrink,
            "interval_scale": self.interval_scale,
            "residuals": self.residuals.detach().cpu().float(),
            "pit": None if self.pit is None else self.pit.detach().cpu().float(),
            "weight": self.weight,
            "baseline": self.baseline,
            "baseline_pit": None if self.baseline_pit is None else self.baseline_pit.detach().cpu().float(),
            "shrink_why": self.shrink_why,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Inverse of `to_dict`; `ValueError` naming what is missing, unknown or malformed."""
        if not isinstance(data, dict):
            raise ValueError(f"a calibration record is a dict, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown or "residuals" not in data:
            raise ValueError(
                f"calibration keys {sorted(data)}: need residuals, may hold {sorted(names)}"
                + (f", not {unknown}" if unknown else "")
            )
        return cls(**data)


def residual_scale(windows: torch.Tensor, interval_scale: str) -> torch.Tensor:
    """Input windows of prices `(..., window)` → the factor `(...)` (float64) conformal residuals are
    divided by: 1 with `interval_scale=none`, else the std of the window's daily log returns."""
    prices = windows.double()
    if interval_scale == "window":
        # A window of identical prices has no volatility; a tiny floor keeps the division finite.
        return torch.diff(prices.log(), dim=-1).std(dim=-1).clamp_min(1e-8)
    return torch.ones(prices.shape[:-1], dtype=torch.float64)


def _shape(value: Any) -> str:
    return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__
