"""Checks of what a caller gives a forecast: the device, prices, horizon, interval and quantile levels.
Each returns the checked value or raises `InputError` saying what is wrong and what would do."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from closecast.data.codec import needs_high_low
from closecast.errors import InputError

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


def check_prices(values: Any, key: str = "values") -> np.ndarray:
    """`values` as a flat float64 array of positive finite prices, or `InputError` naming `key`."""
    try:
        arr = np.array(values, dtype=np.float64)  # a copy: callers may pass read-only arrays
    except (TypeError, ValueError) as exc:
        raise InputError(f"{key} must be a flat list of numbers ({exc})") from exc
    if arr.ndim != 1:
        raise InputError(f"{key} must be a flat list of numbers, got shape {arr.shape}")
    if (arr > 0).all() and np.isfinite(arr).all():  # the usual case, in two passes; positions only if not
        return arr
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise InputError(f"{key} must be finite; position {int(bad[0])} is {arr[bad[0]]}")
    bad = np.flatnonzero(~(arr > 0))
    raise InputError(f"{key} are prices and must be positive; position {int(bad[0])} is {arr[bad[0]]}")


def check_horizon(horizon: int | None, most: int) -> int:
    """Default 1; at most `most`, what the artifact was trained for."""
    h = 1 if horizon is None else horizon
    if isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= most:
        raise InputError(f"horizon must be an integer from 1 to {most} for this model, got {h!r}")
    return h


def check_interval(interval: float | None) -> float | None:
    """A central interval level in (0, `MAX_INTERVAL`], or None."""
    if interval is not None and not (0.0 < interval <= MAX_INTERVAL):
        raise InputError(f"interval must be in (0, {MAX_INTERVAL}], got {interval}")
    return interval


def check_quantiles(quantiles: Any) -> list[float] | None:
    """Quantile levels, each strictly between 0 and 1, or `InputError`."""
    if quantiles is None:
        return None
    levels = [quantiles] if isinstance(quantiles, int | float) else list(quantiles)
    for q in levels:
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0.0 < q < 1.0:
            raise InputError(f"quantile levels must be numbers strictly between 0 and 1, got {q!r}")
    return [float(q) for q in levels]


def check_high_low(
    features: list[str], high: Any, low: Any, n_values: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Each day's High and Low for a model with range inputs (`features`), or `InputError`; None for a
    closes-only model, which ignores them. One High and one Low per value (the same days, oldest first),
    High >= Low > 0; they may be unadjusted beside adjusted closes (only their ratio is read)."""
    if not needs_high_low(features):
        return None
    missing = [key for key, given in (("high", high), ("low", low)) if given is None]
    if missing:
        raise InputError(
            f"this model reads each day's High and Low (data.features={features}); "
            f"send {' and '.join(missing)} too: one number per value, oldest first, like `values`"
        )
    high, low = check_prices(high, "high"), check_prices(low, "low")
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
    return high, low
