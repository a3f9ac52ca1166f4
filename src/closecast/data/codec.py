"""How prices become model inputs and targets, and how predictions become prices again.

Training and serving both use this one module, so what the model saw while learning is exactly what it
sees when answering a request. Everything here is plain tensors and floats: a codec round-trips through
`to_dict` / `from_dict` and travels inside the weights-only serving artifact."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from closecast.data.volatility import (
    PARAMS,
    VOL_INPUTS,
    check_vol_filter,
    fitted_vol_filter,
    log_vol_path,
)

TARGETS = ("return", "level")


# The largest price a request may carry (the server refuses more), so the largest a published model may
# be trained on: far above any quoted price; beyond it a forecast can overflow to infinity.
MAX_PRICE = 1e12


# Network inputs computed from closes only, one channel each: the daily log return, its magnitude, and the
# deviation of the log price from its trailing mean over `ma_window` prices (inside the input window, so a
# request still needs only `window` closes). Volatility clusters, and the magnitude carries it.
# Optional inputs from each input day's High and Low, for sources that have them: `range` is log(High/Low),
# Parkinson's measure of the day's spread. It is a ratio, so unadjusted High/Low work beside an adjusted
# close, and it sees the moves inside the day that two closes miss.
# `log_range` is its logarithm, centred on the training mean: volatility is closer to log-normal than normal,
# and a day whose High equals its Low (a halted stock) is floored at `RANGE_FLOOR`.
RANGE_FEATURES = ("range", "log_range")


RANGE_FLOOR = 1e-4

# `baseline_vol` is what a volatility baseline knows, as an input: the log conditional standard deviation
# of the next return by the Student-t model `vol_input` fitted on the training part, its recursion run over
# each input window from the training returns' variance (every window starts there, wherever it starts),
# so day t's value reads prices up to t only, and a request's window gives the numbers training saw.
FEATURES = ("return", "abs_return", "ma_dev", *RANGE_FEATURES, "baseline_vol")
CENTRED = ("log_range", "baseline_vol")  # logarithms, far from 0: their training mean is subtracted


def needs_high_low(features: list[str] | tuple[str, ...]) -> bool:
    """Whether any of `features` is computed from the day's High and Low."""
    return any(f in RANGE_FEATURES for f in features)


@dataclass
class Codec:
    """Normalization statistics (fitted on the training part only) and the target formulation. What is
    chosen on validation (the shrink, the intervals) is not here: `closecast.distributions.calibration`.

    - `return` (default): the first input is the standardized daily log return of the window; the
      targets are the log returns from the last observed price to each of the next `horizon` prices,
      divided by the training return scale. A prediction of zero is the naive forecast, and a shrink
      (chosen on the validation set) pulls the model toward it.
    - `level`: the original capstone's formulation: prices standardized by the training mean and std, and the
      model predicts the standardized future prices.

    `features` adds input channels beside that first one (`FEATURES`), each divided by its training std.
    """

    target: str
    window: int
    horizon: int
    mean: float
    std: float
    drift: float = 0.0  # mean daily log return of the training part, for the drift baseline
    # Input channels (`FEATURES`) and each one's training std; `return` keeps the scaling above, so a
    # codec without these keys (an older artifact) encodes exactly as before.
    features: list[str] = field(default_factory=lambda: ["return"])
    ma_window: int = 20
    feature_std: list[float] = field(default_factory=list)
    # Training means subtracted before scaling: 0 except for `CENTRED` channels.
    feature_mean: list[float] = field(default_factory=list)
    # `baseline_vol`'s model (`VOL_INPUTS`) and, fitted on the training part, its `params` (arch's names,
    # percent returns) and `start` (the training returns' variance, percent²); empty without the channel.
    vol_input: str = "gjr_t"
    vol_filter: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target {self.target!r} is not one of {TARGETS}")
        if self.window < 2:
            raise ValueError(f"window must be at least 2, got {self.window}")
        if self.horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {self.horizon}")
        if not (math.isfinite(self.std) and self.std > 0):
            raise ValueError(f"normalization std must be finite and positive, got {self.std}")
        self.features = [str(f) for f in self.features]
        bad = [f for f in self.features if f not in FEATURES]
        if bad or not self.features or len(set(self.features)) != len(self.features):
            raise ValueError(
                f"data.features={self.features} must be distinct names from {FEATURES}; e.g. [return]"
            )
        if self.ma_window < 2:
            raise ValueError(f"data.ma_window must be at least 2, got {self.ma_window}")
        for key in ("feature_std", "feature_mean"):
            stats = getattr(self, key)
            if stats and len(stats) != len(self.features):
                raise ValueError(f"{key} {stats} does not match features {self.features}")
        check_vol_filter(self.vol_input, self.vol_filter if "baseline_vol" in self.features else None)

    @classmethod
    def fit(
        cls,
        train_prices: torch.Tensor,
        target: str,
        window: int,
        horizon: int,
        features: list[str] | tuple[str, ...] = ("return",),
        ma_window: int = 20,
        high_low: torch.Tensor | None = None,
        vol_input: str = "gjr_t",
        vol_params: dict[str, float] | None = None,
    ) -> Codec:
        """Fit the statistics on the training prices (1-D, positive); range inputs read `high_low`
        `(2, n)`, each day's High and Low from the first training day on (only the training days);
        `baseline_vol` reads `vol_params`, model `vol_input` fitted on these training prices."""
        prices = train_prices.double()
        log_returns = torch.diff(prices.log())
        drift = float(log_returns.mean())
        if target == "return":
            mean, std = drift, float(log_returns.std())
        else:
            mean, std = float(prices.mean()), float(prices.std())
        vol = fitted_vol_filter(vol_params, log_returns.numpy()) if "baseline_vol" in features else {}
        shape = {"features": list(features), "ma_window": ma_window, "vol_input": vol_input}
        codec = cls(target, window, horizon, mean, std, drift, **shape, vol_filter=vol)
        # The whole training part read as one long window: each extra channel's spread on training data.
        hl = (None, None) if high_low is None else high_low[:, None, : len(prices)].double()
        channels = codec._channels(prices[None], *hl)
        codec.feature_std = [
            1.0 if f == "return" else float(channels[i][0].std()) for i, f in enumerate(codec.features)
        ]
        codec.feature_mean = [
            float(channels[i][0].mean()) if f in CENTRED else 0.0 for i, f in enumerate(codec.features)
        ]
        if not all(math.isfinite(v) and v > 0 for v in codec.feature_std):
            raise ValueError(f"input features {codec.features} have a zero spread on the training part")
        return codec

    @property
    def input_length(self) -> int:
        """Length of the sequence the network reads for one window of prices."""
        return self.window - 1 if self.target == "return" else self.window

    @property
    def n_features(self) -> int:
        """Input channels per time step (the network's `input_size`)."""
        return len(self.features)

    @property
    def needs_high_low(self) -> bool:
        """Whether the inputs need each day's High and Low beside the closes."""
        return needs_high_low(self.features)

    def _channels(
        self,
        prices: torch.Tensor,
        high: torch.Tensor | None = None,
        low: torch.Tensor | None = None,
        vol: list | None = None,
    ) -> list[torch.Tensor]:
        # Unscaled extra channels `(..., input_length)` in float64, `None` for `return` (scaled apart).
        if self.needs_high_low and (high is None or low is None):
            raise ValueError(
                f"data.features={self.features} include a range input ({list(RANGE_FEATURES)}), which "
                "needs each day's High and Low beside the closes"
            )
        log_p = prices.log()
        returns = torch.diff(log_p, dim=-1)
        first = 1 if self.target == "return" else 0  # level inputs keep the first price; it has no return
        out = []
        for name in self.features:
            if name == "return":
                out.append(None)
            elif name == "abs_return":
                out.append(F.pad(returns.abs(), (1, 0))[..., first:])
            elif name == "baseline_vol":
                vol = self.vol_state() if vol is None else vol
                out.append(log_vol_path(VOL_INPUTS[self.vol_input], vol, returns)[..., first:])
            elif name in RANGE_FEATURES:
                day_range = (high.double().log() - low.double().log())[..., first:]
                out.append(day_range if name == "range" else day_range.clamp_min(RANGE_FLOOR).log())
            else:
                # Trailing mean over up to `ma_window` log prices, fewer at the start of the window.
                total = F.pad(log_p.cumsum(-1), (self.ma_window, 0))
                count = torch.arange(1, log_p.shape[-1] + 1, device=log_p.device).clamp(max=self.ma_window)
                mean = (total[..., self.ma_window :] - total[..., : -self.ma_window]) / count
                out.append((log_p - mean)[..., first:])
        return out

    def vol_state(self) -> list:
        """`baseline_vol`'s fitted numbers in a fixed order, `PARAMS` then `start` (0 where the model has
        no such parameter; none without the channel)."""
        if "baseline_vol" not in self.features:
            return []
        params = self.vol_filter["params"]
        return [*(params.get(k, 0.0) for k in PARAMS), self.vol_filter["start"]]

    def stats(self) -> tuple[float, float, list[float], list[float], list[float]]:
        """The statistics `encode` normalizes by: mean, std, each input channel's mean and std, and
        `baseline_vol`'s model (`vol_state`)."""
        means = self.feature_mean or [0.0] * len(self.features)
        return self.mean, self.std, means, self.feature_std, self.vol_state()

    def encode(
        self,
        windows: torch.Tensor,
        high: torch.Tensor | None = None,
        low: torch.Tensor | None = None,
        stats: tuple | None = None,
    ) -> torch.Tensor:
        """Prices `(..., window)` → network input `(..., input_length, n_features)` in float32; range
        inputs read the same days' `high` and `low` `(..., window)`. `stats` replaces this codec's
        `stats()` with each window's own (tensors `(..., 1)`: windows of several series, each normalized
        by its series' codec)."""
        mean, std, means, stds, vol = stats or self.stats()
        prices = windows.double()
        if self.target == "return":
            base = (torch.diff(prices.log(), dim=-1) - mean) / std
        else:
            base = (prices - mean) / std
        if self.features == ["return"]:
            return base.float().unsqueeze(-1)
        channels = [
            base if c is None else (c - m) / s
            for c, m, s in zip(self._channels(prices, high, low, vol), means, stds, strict=True)
        ]
        return torch.stack(channels, dim=-1).float()

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

    def decode(self, y: torch.Tensor, last: torch.Tensor, shrink: float) -> torch.Tensor:
        """Network output `(..., horizon)` and last observed prices `(...)` → predicted prices (float64),
        the move shrunk toward naive by `shrink` (0 is naive, 1 the network's own)."""
        y = y.double()
        last = last.double().unsqueeze(-1)
        if self.target == "return":
            return last * torch.exp(shrink * y * self.std)
        level = y * self.std + self.mean
        return last + shrink * (level - last)

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
        return cls(
            **{
                **data,
                "features": list(data.get("features", ["return"])),
                "feature_std": list(data.get("feature_std", [])),
                "feature_mean": list(data.get("feature_mean", [])),
                "vol_filter": dict(data.get("vol_filter", {})),
            }
        )
