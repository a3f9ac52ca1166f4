"""The serving artifact: a `.pt` file of tensors and plain data that loads with `weights_only=True`.

It holds everything needed to answer a forecast — weights, network shape, codec (window, horizon,
normalization, shrink), conformal residuals — plus metadata (ticker, data range, metrics, versions).
No pickled classes: loading one can never run code from the file.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import shutil
import tempfile
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from closecast.codec import Codec
from closecast.metrics import conformal_quantile
from closecast.model import LSTMForecaster

FORMAT = "closecast.artifact/1"
MAX_INTERVAL = 0.999


class InputError(ValueError):
    """Values, horizon, interval or device a caller can correct."""


class ArtifactError(ValueError):
    """A file that is not a usable closecast artifact."""


def package_versions() -> dict[str, str]:
    """Versions of the packages that produced an artifact."""
    versions = {"python": platform.python_version()}
    for name in ("closecast", "torch", "pytorch-lightning", "numpy"):
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def build_artifact(
    net: nn.Module,
    codec: Codec,
    data: dict[str, Any],
    metrics: dict[str, float],
    residuals: np.ndarray,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the artifact dict; `residuals` are sorted absolute log residuals `(n, horizon)`."""
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    return {
        "format": FORMAT,
        "state_dict": state,
        "model": dict(getattr(net, "hparams", {})),
        "codec": codec.to_dict(),
        "window": codec.window,
        "horizon": codec.horizon,
        "residuals": torch.as_tensor(np.asarray(residuals, dtype=np.float32)),
        "data": dict(data),
        "ticker": data.get("ticker"),
        "feature": data.get("feature"),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "versions": package_versions(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }


def atomic_write(path: Path, writer) -> None:
    """Write through a temporary file in the same folder, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_artifact(artifact: dict[str, Any], path: str | Path) -> Path:
    """Save atomically; returns the path."""
    path = Path(path)
    atomic_write(path, lambda tmp: torch.save(artifact, tmp))
    return path


def publish(artifact_path: str | Path, checkpoints_dir: str | Path, name: str = "best.pt") -> Path:
    """Copy an artifact into the served checkpoints folder, atomically."""
    target = Path(checkpoints_dir) / name
    atomic_write(target, lambda tmp: shutil.copyfile(artifact_path, tmp))
    return target


def load_artifact(path: str | Path) -> dict[str, Any]:
    """Load and check an artifact with `torch.load(weights_only=True)`."""
    path = Path(path)
    try:
        artifact = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ArtifactError(f"{path}: not a weights-only closecast artifact ({exc})") from exc
    if not isinstance(artifact, dict) or artifact.get("format") != FORMAT:
        found = artifact.get("format") if isinstance(artifact, dict) else type(artifact).__name__
        raise ArtifactError(f"{path}: format {found!r} is not {FORMAT!r}")
    return artifact


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
        self._fused = self._fused_weights()

    def _fused_weights(self) -> tuple | None:
        """Weights for calling the LSTM kernel directly on the CPU, or None to go through the module.

        For one window the module's Python wrapper (argument checks, weight re-flattening) costs about
        as much as the arithmetic; the kernel and its inputs are the same, so the numbers are too.
        """
        net = self.net
        if type(net) is not LSTMForecaster or self.device.type != "cpu":
            return None
        lstm = net.lstm
        if lstm.proj_size or lstm.bidirectional or not lstm.batch_first:
            return None
        weights = [w.detach() for w in lstm._flat_weights]
        h0 = torch.zeros(lstm.num_layers, 1, lstm.hidden_size, dtype=weights[0].dtype)
        return weights, h0, lstm.bias, lstm.num_layers, net.head.weight.detach(), net.head.bias.detach()

    @property
    def window(self) -> int:
        return self.codec.window

    @property
    def horizon(self) -> int:
        return self.codec.horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Network output for encoded windows `(batch, length, 1)`; equal to `self.net(x)` in eval mode."""
        if self._fused is None:
            return self.net(x)
        weights, h0, bias, layers, head_w, head_b = self._fused
        if x.shape[0] != 1:
            h0 = h0.new_zeros(h0.shape[0], x.shape[0], h0.shape[2])
        out, _, _ = torch.lstm(x, (h0, h0), weights, bias, layers, 0.0, False, False, True)
        return torch.nn.functional.linear(out[:, -1], head_w, head_b)

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

    def network_outputs(self, windows: list[np.ndarray]) -> torch.Tensor:
        """Normalized outputs `(len(windows), horizon)` for checked windows, in one network call."""
        with torch.inference_mode():
            # Encoded one by one, exactly as a lone window is; only the network sees the batch.
            x = torch.cat([self.codec.encode(torch.from_numpy(w)).unsqueeze(0) for w in windows])
            return self.forward(x.to(self.device)).cpu()

    def answer(
        self, y: torch.Tensor, window: np.ndarray, horizon: int, interval: float | None = None
    ) -> dict[str, Any]:
        """Prices (and interval) from one row `(1, horizon)` of network output (the second half)."""
        prices = torch.from_numpy(window)
        pred = self.codec.decode(y, prices[-1:])[0, :horizon].numpy()
        result: dict[str, Any] = {"prediction": float(pred[0]), "predictions": [float(p) for p in pred]}
        if interval is not None:
            scale = float(self.codec.residual_scale(prices))  # 1 unless the artifact scales by volatility
            radius = conformal_quantile(self.residuals, interval)[:horizon] * scale
            result["interval"] = interval
            # Too few calibration residuals for this level give an unbounded interval: upper is None.
            result["lower"] = [
                float(p * math.exp(-r)) if math.isfinite(r) else 0.0
                for p, r in zip(pred, radius, strict=True)
            ]
            result["upper"] = [
                float(p * math.exp(r)) if math.isfinite(r) else None
                for p, r in zip(pred, radius, strict=True)
            ]
        return result

    def predict(
        self, values: Any, horizon: int | None = None, interval: float | None = None
    ) -> dict[str, Any]:
        """Forecast the next `horizon` prices after `values`, with an optional conformal interval."""
        window, h = self.check(values, horizon, interval)
        return self.answer(self.network_outputs([window]), window, h, interval)
