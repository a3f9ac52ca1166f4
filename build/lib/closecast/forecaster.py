"""A loaded artifact ready to answer: the one inference path of the CLI and the server."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from closecast.codec import Codec
from closecast.metrics import conformal_quantile
from closecast.model import LSTMForecaster

MAX_INTERVAL = 0.999


class InputError(ValueError):
    """Values, horizon, interval or device a caller can correct."""


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


class Forecaster:
    """A loaded artifact ready to answer: weights on a device, codec and intervals at hand."""

    def __init__(self, artifact: dict[str, Any], device: str | torch.device | None = None) -> None:
        self.device = device if isinstance(device, torch.device) else parse_device(device)
        self.codec = Codec.from_dict(artifact["codec"])
        self.net = LSTMForecaster(**artifact["model"])
        self.net.load_state_dict(artifact["state_dict"])
        self.net.eval().to(self.device)
        self.residuals = np.asarray(artifact["residuals"], dtype=np.float64)
        self.metadata = {k: v for k, v in artifact.items() if k not in ("state_dict", "residuals")}

    @property
    def window(self) -> int:
        return self.codec.window

    @property
    def horizon(self) -> int:
        return self.codec.horizon

    def check_values(self, values: Any) -> np.ndarray:
        """The last `window` values as float64, or `InputError` saying what is wrong."""
        try:
            arr = np.array(values, dtype=np.float64)  # a copy: callers may pass read-only arrays
        except (TypeError, ValueError) as exc:
            raise InputError(f"values must be a flat list of numbers ({exc})") from exc
        if arr.ndim != 1:
            raise InputError(f"values must be a flat list of numbers, got shape {arr.shape}")
        if arr.size < self.window:
            raise InputError(f"need at least window={self.window} values, got {arr.size}")
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise InputError(f"values must be finite; position {int(bad[0])} is {arr[bad[0]]}")
        bad = np.flatnonzero(arr <= 0)
        if bad.size:
            raise InputError(
                f"values are prices and must be positive; position {int(bad[0])} is {arr[bad[0]]}"
            )
        return arr[-self.window :]

    def check_horizon(self, horizon: int | None) -> int:
        """Default 1; at most what the artifact was trained for."""
        h = 1 if horizon is None else horizon
        if isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= self.horizon:
            raise InputError(f"horizon must be an integer from 1 to {self.horizon} for this model, got {h!r}")
        return h

    def check(
        self, values: Any, horizon: int | None = None, interval: float | None = None
    ) -> tuple[np.ndarray, int]:
        """The window to forecast from and the horizon, or `InputError` (the first half of `predict`)."""
        h = self.check_horizon(horizon)
        window = self.check_values(values)
        if interval is not None and not (0.0 < interval <= MAX_INTERVAL):
            raise InputError(f"interval must be in (0, {MAX_INTERVAL}], got {interval}")
        return window, h

    def forecast(self, windows: np.ndarray) -> np.ndarray:
        """Predicted prices `(n, horizon)` for checked windows `(n, window)`, in one network call.

        Encoding and decoding are elementwise, so a window's numbers do not depend on its neighbours;
        only the network's float32 sums may round differently in a batch (~1e-7 relative).
        """
        codec = self.codec
        with torch.inference_mode():
            prices = torch.from_numpy(windows)
            y = self.net(codec.encode(prices).to(self.device)).cpu()
            return codec.decode(y, prices[:, -1]).numpy()

    def answer(
        self, forecast: np.ndarray, window: np.ndarray, horizon: int, interval: float | None = None
    ) -> dict[str, Any]:
        """The answer from one row `(horizon,)` of `forecast` (the second half of `predict`)."""
        predictions = forecast[:horizon].tolist()
        result: dict[str, Any] = {"prediction": predictions[0], "predictions": predictions}
        if interval is not None:
            # 1 unless the artifact scales its residuals by the window's volatility.
            scale = float(self.codec.residual_scale(torch.from_numpy(window)))
            radius = conformal_quantile(self.residuals, interval)[:horizon] * scale
            result["interval"] = interval
            with np.errstate(over="ignore", invalid="ignore"):
                lower = np.asarray(predictions) * np.exp(-radius)
                upper = np.asarray(predictions) * np.exp(radius)
            # Too few calibration residuals for this level (or a bound past the largest float) give an
            # unbounded side: upper is None, lower is 0.
            result["lower"] = [float(v) if math.isfinite(v) else 0.0 for v in lower.tolist()]
            result["upper"] = [float(v) if math.isfinite(v) else None for v in upper.tolist()]
        return result

    def predict(
        self, values: Any, horizon: int | None = None, interval: float | None = None
    ) -> dict[str, Any]:
        """Forecast the next `horizon` prices after `values`, with an optional conformal interval."""
        window, h = self.check(values, horizon, interval)
        return self.answer(self.forecast(window[None])[0], window, h, interval)
