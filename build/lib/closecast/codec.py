"""How prices become model inputs and targets, and how predictions become prices again.

Training and serving both use this one module, so what the model saw while learning is exactly what it
sees when answering a request. Everything here is plain tensors and floats: a codec round-trips through
`to_dict` / `from_dict` and travels inside the weights-only serving artifact.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

TARGETS = ("return", "level")
INTERVAL_SCALES = ("none", "window")


@dataclass
class Codec:
    """Normalization statistics (fitted on the training part only) and the target formulation.

    - `return` (default): inputs are standardized daily log returns of the window; the targets are the
      log returns from the last observed price to each of the next `horizon` prices, divided by the
      training return scale. A prediction of zero is the naive forecast, and `shrink` (chosen on the
      validation set) pulls the model toward it.
    - `level`: the reference's formulation: prices standardized by the training mean and std, and the
      model predicts the standardized future prices.
    """

    target: str
    window: int
    horizon: int
    mean: float
    std: float
    shrink: float = 1.0
    drift: float = 0.0  # mean daily log return of the training part, for the drift baseline
    # How conformal residuals are scaled: `none` (plain log residuals) or `window` (divided by the
    # volatility of the input window, so intervals widen in turbulent periods and narrow in calm ones).
    interval_scale: str = "none"

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target {self.target!r} is not one of {TARGETS}")
        if self.window < 2:
            raise ValueError(f"window must be at least 2, got {self.window}")
        if self.horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {self.horizon}")
        if not (math.isfinite(self.std) and self.std > 0):
            raise ValueError(f"normalization std must be finite and positive, got {self.std}")
        if self.interval_scale not in INTERVAL_SCALES:
            raise ValueError(f"interval_scale {self.interval_scale!r} is not one of {INTERVAL_SCALES}")

    @classmethod
    def fit(cls, train_prices: torch.Tensor, target: str, window: int, horizon: int) -> Codec:
        """Fit the statistics on the training prices (1-D, positive)."""
        prices = train_prices.double()
        log_returns = torch.diff(prices.log())
        drift = float(log_returns.mean())
        if target == "return":
            mean, std = drift, float(log_returns.std())
        else:
            mean, std = float(prices.mean()), float(prices.std())
        return cls(target=target, window=window, horizon=horizon, mean=mean, std=std, drift=drift)

    @property
    def input_length(self) -> int:
        """Length of the sequence the network reads for one window of prices."""
        return self.window - 1 if self.target == "return" else self.window

    def encode(self, windows: torch.Tensor) -> torch.Tensor:
        """Prices `(..., window)` → network input `(..., input_length, 1)` in float32."""
        prices = windows.double()
        if self.target == "return":
            features = (torch.diff(prices.log(), dim=-1) - self.mean) / self.std
        else:
            features = (prices - self.mean) / self.std
        return features.float().unsqueeze(-1)

    def target_of(self, windows: torch.Tensor) -> torch.Tensor:
        """Prices `(..., window + horizon)` → normalized targets `(..., horizon)` in float32."""
        prices = windows.double()
        last = prices[..., self.window - 1 : self.window]
        future = prices[..., self.window :]
        if self.target == "return":
            y = (future.log() - last.log()) / self.std
        else:
            y = (future - self.mean) / self.std
        return y.float()

    def decode(self, y: torch.Tensor, last: torch.Tensor, shrink: float | None = None) -> torch.Tensor:
        """Network output `(..., horizon)` and last observed prices `(...)` → predicted prices (float64)."""
        shrink = self.shrink if shrink is None else shrink
        y = y.double()
        last = last.double().unsqueeze(-1)
        if self.target == "return":
            return last * torch.exp(shrink * y * self.std)
        level = y * self.std + self.mean
        return last + shrink * (level - last)

    def residual_scale(self, windows: torch.Tensor) -> torch.Tensor:
        """Prices `(..., window)` → the factor `(...)` (float64) that conformal residuals are divided by:
        1 with `interval_scale=none`, else the standard deviation of the window's daily log returns."""
        prices = windows.double()[..., -self.window :]
        if self.interval_scale == "none":
            return torch.ones(prices.shape[:-1], dtype=torch.float64)
        # A window of identical prices has no volatility; a tiny floor keeps the division finite.
        return torch.diff(prices.log(), dim=-1).std(dim=-1).clamp_min(1e-8)

    def drift_forecast(self, last: torch.Tensor) -> torch.Tensor:
        """Random walk with drift (drift fitted on the training part): `(...)` → `(..., horizon)`."""
        steps = torch.arange(1, self.horizon + 1, dtype=torch.float64, device=last.device)
        return last.double().unsqueeze(-1) * torch.exp(steps * self.drift)

    def to_dict(self) -> dict:
        """Plain-data form, safe for `torch.load(weights_only=True)`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Codec:
        """Inverse of `to_dict`."""
        return cls(**data)
