"""A seeded synthetic universe for sizes no real bundle has: GARCH(1,1) returns with Student-t shocks, each
series with its own parameters, length and first day, written as one long panel file that
`data.source=panel` reads (`python -m benchmarks universe` trains on it).

    from benchmarks.synthetic_universe import write_universe
    write_universe(Path("universe.parquet"), series=500, days=5000, seed=0)
    # python train.py data.source=panel data.path=universe.parquet experiment=universe

Every series ends on the last business day of the calendar (a stock still trading) and starts on a random
one (listed later): the panel is ragged like a real one, and one shared calendar split still leaves each
series a validation and a test part.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FIRST_DAY = "1990-01-01"
MIN_LENGTH_FRAC = 0.6  # the shortest series holds this share of the calendar's days
# Daily returns are clipped to this log-return magnitude: a t shock with few degrees of freedom on a
# high-variance day would otherwise make a one-day move the cleaning step refuses as an unadjusted split.
MAX_ABS_RETURN = 0.4


def garch_t_returns(days: int, series: int, rng: np.random.Generator) -> np.ndarray:
    """Log returns `(days, series)` of GARCH(1,1)-t processes, one parameter draw per series, started at
    their unconditional variance."""
    vol = rng.uniform(0.01, 0.03, series)  # unconditional daily volatility
    alpha = rng.uniform(0.03, 0.12, series)
    persistence = rng.uniform(0.90, 0.99, series)  # alpha + beta
    beta = persistence - alpha
    omega = vol**2 * (1.0 - persistence)
    nu = rng.uniform(4.0, 10.0, series)
    mu = rng.normal(0.0003, 0.0002, series)
    # Student-t shocks scaled to unit variance, so sigma is the conditional standard deviation.
    shocks = rng.standard_t(nu, size=(days, series)) * np.sqrt((nu - 2.0) / nu)
    returns = np.empty((days, series))
    var, prev = vol**2, np.zeros(series)
    for t in range(days):
        var = omega + alpha * prev**2 + beta * var
        prev = np.sqrt(var) * shocks[t]
        returns[t] = prev
    return np.clip(mu + returns, -MAX_ABS_RETURN, MAX_ABS_RETURN)


def synthetic_panel(series: int, days: int, seed: int) -> pd.DataFrame:
    """The long panel (`series`, `date`, `close`): `series` GARCH(1,1)-t series on a calendar of `days`
    business days, each of a random length in [MIN_LENGTH_FRAC * days, days] ending on the last day."""
    if series < 1 or days < 2:
        raise ValueError(f"a synthetic universe needs series >= 1 and days >= 2, got {series} and {days}")
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(FIRST_DAY, periods=days)
    returns = garch_t_returns(days, series, rng)
    lengths = rng.integers(int(np.ceil(MIN_LENGTH_FRAC * days)), days + 1, series)
    first_price = rng.uniform(10.0, 200.0, series)
    width = len(str(series - 1))
    frames = []
    for i in range(series):
        start = days - int(lengths[i])
        log_price = np.log(first_price[i]) + np.concatenate([[0.0], np.cumsum(returns[start + 1 :, i])])
        frames.append(
            pd.DataFrame({"series": f"S{i:0{width}d}", "date": dates[start:], "close": np.exp(log_price)})
        )
    return pd.concat(frames, ignore_index=True)


def write_universe(path: Path, series: int, days: int, seed: int) -> Path:
    """Write `synthetic_panel(series, days, seed)` to `path` (Parquet, or CSV for a `.csv` name)."""
    frame = synthetic_panel(series, days, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    else:
        frame.to_parquet(path, index=False)
    return path
