"""A loaded artifact ready to answer: the one inference path of the CLI and the server."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from closecast.data.codec import Codec
from closecast.distributions.calibration import Calibration
from closecast.distributions.conformal import conformal_quantile
from closecast.distributions.predictive import LogReturnForecast, log_return_forecast
from closecast.distributions.served import Part, served_quantiles
from closecast.distributions.volatility_filter import filter_forecast, history_returns
from closecast.errors import InputError
from closecast.models.lstm import LSTMForecaster

MAX_INTERVAL = 0.999


def parse_device(device: str | None) -> torch.device:
    """`None`/`cpu`/`cuda`/`cuda:N`/`mps` → a device present on this host, or `InputError`."""
    name = "cpu" if device in (None, "") else str(device)
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise InputError(f"device {name!r} is not a device name (use 'cpu' or 'cuda')") from exc
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {name!r} is not available on this host (no CUDA); use 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {name!r}: this host has {torch.cuda.device_count()} CUDA devices")
        return dev
    if dev.type == "mps" and torch.backends.mps.is_available():
        return dev
    raise InputError(f"device {name!r} is not available on this host; use 'cpu'")


def level_name(level: float) -> str:
    """The key a quantile level is answered under: the level as a caller writes it (`0.05`, `0.5`)."""
    return repr(float(level))


class Forecaster:
    """A loaded artifact ready to answer: weights on a device, codec and calibration at hand.

    A likelihood head (`student_t`, `gaussian`) answers intervals and quantiles from its predictive
    distribution, recalibrated on validation (`closecast.distributions.predictive`); a point network
    (`none`, and every artifact from before the head) from its conformal residuals.
    """

    def __init__(self, artifact: dict[str, Any], device: str | torch.device | None = None) -> None:
        self.device = device if isinstance(device, torch.device) else parse_device(device)
        self.codec = Codec.from_dict(artifact["codec"])
        self.calibration = Calibration.from_dict(artifact["calibration"])
        self.net = LSTMForecaster(**artifact["model"])
        self.net.load_state_dict(artifact["state_dict"])
        self.net.eval().to(self.device)
        self.likelihood = self.net.likelihood
        self.residuals = self.calibration.residuals.double().numpy()
        pit, base_pit = self.calibration.pit, self.calibration.baseline_pit
        self.pit = None if pit is None else pit.double().numpy()
        self.baseline_pit = None if base_pit is None else base_pit.double().numpy()
        self.metadata = {k: v for k, v in artifact.items() if k not in ("state_dict", "calibration")}
        # The validation choices without their arrays.
        self.metadata["calibration"] = {
            "shrink": self.calibration.shrink,
            "interval_scale": self.calibration.interval_scale,
        }
        # What the distribution answers are, and how they scored against the reference baseline.
        metrics = self.metadata.get("metrics") or {}
        scored = ("vs_reference", "dm_t", "in_mcs")
        self.metadata["serves"] = self.calibration.describe() | {
            k: metrics[f"test/served/{k}"]
            for k in scored
            if isinstance(metrics.get(f"test/served/{k}"), float)
        }

    @property
    def window(self) -> int:
        return self.codec.window

    @property
    def horizon(self) -> int:
        return self.codec.horizon

    @property
    def inputs(self) -> list[str]:
        """The arrays a request gives this model: `values`, and `high` and `low` for range inputs."""
        return ["values", "high", "low"] if self.codec.needs_high_low else ["values"]

    @staticmethod
    def check_prices(values: Any, key: str = "values") -> np.ndarray:
        """`values` as a flat float64 array of positive finite prices, or `InputError` naming `key`."""
        try:
            arr = np.array(values, dtype=np.float64)  # a copy: callers may pass read-only arrays
        except (TypeError, ValueError) as exc:
            raise InputError(f"{key} must be a flat list of numbers ({exc})") from exc
        if arr.ndim != 1:
            raise InputError(f"{key} must be a flat list of numbers, got shape {arr.shape}")
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise InputError(f"{key} must be finite; position {int(bad[0])} is {arr[bad[0]]}")
        bad = np.flatnonzero(arr <= 0)
        if bad.size:
            raise InputError(
                f"{key} are prices and must be positive; position {int(bad[0])} is {arr[bad[0]]}"
            )
        return arr

    def check_values(self, values: Any) -> np.ndarray:
        """The last `window` values as float64, or `InputError` saying what is wrong."""
        arr = self.check_prices(values)
        if arr.size < self.window:
            raise InputError(f"need at least window={self.window} values, got {arr.size}")
        return arr[-self.window :]

    def check_high_low(self, high: Any, low: Any, n_values: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The last `window` Highs and Lows for a model with range inputs, or `InputError`; None for a
        closes-only model, which ignores them. One High and one Low per value (the same days, oldest
        first), High >= Low > 0; they may be unadjusted beside adjusted closes (only their ratio is read)."""
        if not self.codec.needs_high_low:
            return None
        missing = [key for key, given in (("high", high), ("low", low)) if given is None]
        if missing:
            raise InputError(
                f"this model reads each day's High and Low (data.features={self.codec.features}); "
                f"send {' and '.join(missing)} too: one number per value, oldest first, like `values`"
            )
        high, low = self.check_prices(high, "high"), self.check_prices(low, "low")
        for key, arr in (("high", high), ("low", low)):
            if arr.size != n_values:
                raise InputError(
                    f"{key} has {arr.size} numbers but values has {n_values}; send one {key} per value"
                )
        bad = np.flatnonzero(high < low)
        if bad.size:
            i = int(bad[0])
            raise InputError(
                f"high must be at least low each day; position {i} has high {high[i]} < low {low[i]}"
            )
        return high[-self.window :], low[-self.window :]

    def check_horizon(self, horizon: int | None) -> int:
        """Default 1; at most what the artifact was trained for."""
        h = 1 if horizon is None else horizon
        if isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= self.horizon:
            raise InputError(f"horizon must be an integer from 1 to {self.horizon} for this model, got {h!r}")
        return h

    @staticmethod
    def check_quantiles(quantiles: Any) -> list[float] | None:
        """Quantile levels, each strictly between 0 and 1, or `InputError`."""
        if quantiles is None:
            return None
        levels = [quantiles] if isinstance(quantiles, int | float) else list(quantiles)
        for q in levels:
            if isinstance(q, bool) or not isinstance(q, int | float) or not 0.0 < q < 1.0:
                raise InputError(f"quantile levels must be numbers strictly between 0 and 1, got {q!r}")
        return [float(q) for q in levels]

    def check(
        self, values: Any, horizon: int | None = None, interval: float | None = None
    ) -> tuple[np.ndarray, int]:
        """The window to forecast from and the horizon, or `InputError` (the first half of `predict`)."""
        h = self.check_horizon(horizon)
        window = self.check_values(values)
        if interval is not None and not (0.0 < interval <= MAX_INTERVAL):
            raise InputError(f"interval must be in (0, {MAX_INTERVAL}], got {interval}")
        return window, h

    def outputs(
        self,
        windows: np.ndarray,
        distribution: bool = True,
        high_low: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, LogReturnForecast | None]:
        """Predicted prices `(n, horizon)` for checked windows `(n, window)` (and their checked High and
        Low, for range inputs), and the predictive distribution of the log returns (None for a point
        network or without `distribution`), in one network call."""
        codec = self.codec
        with torch.inference_mode():
            prices = torch.from_numpy(windows)
            ranges = [torch.from_numpy(a) for a in high_low or ()]
            raw = self.net(codec.encode(prices, *ranges).to(self.device)).cpu()
            shrink = self.calibration.shrink
            point = codec.decode(self.likelihood.location(raw), prices[:, -1], shrink).numpy()
        if not (self.likelihood.has_distribution and distribution):
            return point, None
        return point, log_return_forecast(codec, self.likelihood, raw, shrink)

    def forecast(
        self, windows: np.ndarray, high_low: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """Predicted prices `(n, horizon)` for checked windows `(n, window)`, in one network call.

        Encoding and decoding are elementwise, so a window's numbers do not depend on its neighbours;
        only the network's float32 sums may round differently in a batch (~1e-7 relative).
        """
        return self.outputs(windows, distribution=False, high_low=high_low)[0]

    def served_parts(self, dist: LogReturnForecast | None, values: np.ndarray) -> list[Part] | None:
        """The served distribution of one request as parts of a quantile average: the network's
        recalibrated distribution `dist` and, for a combination, the baseline run over the checked
        `values` sent (`closecast.distributions.served`); None for a point network."""
        if dist is None:
            return None
        weight = self.calibration.weight
        parts = [Part(dist, self.pit, weight)]
        spec = self.calibration.filter_spec()
        if spec is not None and weight < 1:
            base = filter_forecast(spec, history_returns(values[None], spec.history), self.horizon)
            parts.append(Part(base, self.baseline_pit, 1.0 - weight))
        return parts

    def price_quantiles(
        self, window: np.ndarray, point: np.ndarray, dist: list[Part] | None, levels: list[float]
    ) -> np.ndarray:
        """Prices `(horizon, len(levels))` at each quantile level, for one window (`dist`: the served
        distribution's parts, None for a point network)."""
        if dist is not None:
            return window[-1] * np.exp(served_quantiles(dist, levels)[0])
        # A point network: the level's side of the conformal interval that has it as a bound.
        scale = float(self.calibration.residual_scale(torch.from_numpy(window)))
        out = np.empty((len(point), len(levels)))
        for j, level in enumerate(levels):
            if level == 0.5:
                out[:, j] = point
                continue
            radius = conformal_quantile(self.residuals, abs(2 * level - 1)) * scale
            with np.errstate(over="ignore"):
                out[:, j] = point * np.exp(np.sign(level - 0.5) * radius[: len(point)])
        return out

    def answer(
        self,
        forecast: np.ndarray,
        window: np.ndarray,
        horizon: int,
        interval: float | None = None,
        quantiles: list[float] | None = None,
        dist: list[Part] | None = None,
    ) -> dict[str, Any]:
        """The answer from one row `(horizon,)` of `forecast` and of `dist` (the second half of
        `predict`)."""
        predictions = forecast[:horizon].tolist()
        result: dict[str, Any] = {"prediction": predictions[0], "predictions": predictions}
        point = np.asarray(predictions)
        if quantiles:
            q = self.price_quantiles(window, point, dist, quantiles)[:horizon]
            result["quantiles"] = {
                level_name(a): [float(v) if math.isfinite(v) else None for v in q[:, j].tolist()]
                for j, a in enumerate(quantiles)
            }
        if interval is not None:
            result["interval"] = interval
            if dist is not None:
                ends = [(1 - interval) / 2, (1 + interval) / 2]
                lower, upper = self.price_quantiles(window, point, dist, ends).T
            else:
                # 1 unless the artifact scales its residuals by the window's volatility.
                scale = float(self.calibration.residual_scale(torch.from_numpy(window)))
                radius = conformal_quantile(self.residuals, interval)[:horizon] * scale
                with np.errstate(over="ignore", invalid="ignore"):
                    lower, upper = point * np.exp(-radius), point * np.exp(radius)
            lower, upper = lower[:horizon], upper[:horizon]
            # Too few calibration residuals for this level (or a bound past the largest float) give an
            # unbounded side: upper is None, lower is 0.
            result["lower"] = [float(v) if math.isfinite(v) else 0.0 for v in lower.tolist()]
            result["upper"] = [float(v) if math.isfinite(v) else None for v in upper.tolist()]
        return result

    def predict(
        self,
        values: Any,
        horizon: int | None = None,
        interval: float | None = None,
        quantiles: Any = None,
        high: Any = None,
        low: Any = None,
    ) -> dict[str, Any]:
        """Forecast the next `horizon` prices after `values`, with an optional central interval and
        optional quantiles (levels in (0, 1)), from the calibrated distribution or conformal residuals.
        A model with range inputs needs the same days' `high` and `low`; others ignore them."""
        window, h = self.check(values, horizon, interval)
        levels = self.check_quantiles(quantiles)
        high_low = self.check_high_low(high, low, np.size(values))
        batch = None if high_low is None else (high_low[0][None], high_low[1][None])
        wanted = bool(levels) or interval is not None
        point, dist = self.outputs(window[None], distribution=wanted, high_low=batch)
        served = self.served_parts(dist, self.check_prices(values) if dist is not None else window)
        return self.answer(point[0], window, h, interval, levels, served)
