"""Fitted baselines depend only on the series, the split and the settings: fit them once and reuse
them across the trials of a sweep, the folds of a backtest that share a training part, and reruns. One
`.npz` file per fit under `baselines.cache_dir`, keyed by a hash of everything the fit reads."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import arch
import numpy as np

from closecast.evaluation.baselines import BaselineFit, baseline_names, fit_baselines

log = logging.getLogger(__name__)

# Bump when the fitting code changes what it computes: old entries are then never read.
CACHE_VERSION = 2


def cache_key(
    prices: np.ndarray, n_train: int, horizon: int, refit_every: int, high_low: np.ndarray | None = None
) -> str:
    """Hex digest of the prices (and High/Low), the split, the settings, arch's version and
    `CACHE_VERSION`."""
    digest = hashlib.sha256(np.ascontiguousarray(prices, dtype=np.float64).tobytes())
    if high_low is not None:
        digest.update(np.ascontiguousarray(high_low, dtype=np.float64).tobytes())
    digest.update(json.dumps([n_train, horizon, refit_every, arch.__version__, CACHE_VERSION]).encode())
    return digest.hexdigest()[:32]


def _save(path: Path, fits: dict[str, BaselineFit]) -> None:
    arrays: dict[str, np.ndarray] = {}
    for name, fit in fits.items():
        arrays[f"{name}.sigma"] = fit.sigma
        if fit.df is not None:
            arrays[f"{name}.df"] = fit.df
    arrays["params"] = np.array(json.dumps({n: f.params for n, f in fits.items()}))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)  # atomic: a reader sees the whole file or none
    finally:
        Path(tmp).unlink(missing_ok=True)


def _load(path: Path) -> dict[str, BaselineFit]:
    with np.load(path, allow_pickle=False) as data:
        params = json.loads(str(data["params"]))
        return {
            n: BaselineFit(n, data[f"{n}.sigma"], data[f"{n}.df"] if f"{n}.df" in data else None, p)
            for n, p in params.items()
        }


def fitted_baselines(
    prices: np.ndarray,
    n_train: int,
    horizon: int,
    settings: Any = None,
    high_low: np.ndarray | None = None,
) -> dict[str, BaselineFit]:
    """Every baseline a run scores (`baselines.baseline_names`), from the cache when it holds them; the
    range ones too when the prices' days' High and Low `high_low` `(n_prices, 2)` are given."""
    settings = settings or {}
    refit_every = int(settings.get("refit_every", 0))
    names = baseline_names(refit_every, ranges=high_low is not None)
    cache_dir = settings.get("cache_dir")
    key = cache_key(prices, n_train, horizon, refit_every, high_low)
    path = Path(cache_dir) / f"{key}.npz" if cache_dir else None
    if path is not None and path.exists():
        try:
            fits = _load(path)
            if set(fits) == set(names):
                return fits
        except (OSError, ValueError, KeyError) as exc:
            log.warning("baseline cache %s unreadable (%s): fitting again", path, exc)
    fits = fit_baselines(names, prices, n_train, horizon, refit_every, high_low)
    if path is not None:
        try:
            _save(path, fits)
        except OSError as exc:
            log.warning("baseline cache %s not written (%s)", path, exc)
    return fits


def fitted_vol(
    name: str, prices: np.ndarray, n_train: int, horizon: int = 1, settings: Any = None
) -> dict[str, float]:
    """The training-part parameters of baseline `name` (arch's names, percent returns) for the
    `baseline_vol` input: the same fit, from the same cache, as the run's scored baselines
    (`fitted_baselines` with the run's `horizon` and `baselines` settings)."""
    fit = fitted_baselines(prices, n_train, horizon, settings)[name]
    return {k: v for k, v in fit.params.items() if k != "backcast"}
