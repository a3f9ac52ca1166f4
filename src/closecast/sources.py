"""Where prices come from: the bundled sample, Yahoo Finance (cached) or a CSV; the integrity step."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

SOURCES = ("sample", "yahoo", "csv")
DATE_COLUMNS = ("Date", "date", "Datetime", "datetime", "timestamp")


class DataError(ValueError):
    """A problem with the input series that the user can fix (wrong source, too short, bad file)."""


# ---------------------------------------------------------------------------------------------- sources


def yf_download(ticker: str, start: str | None, end: str | None) -> pd.DataFrame:
    """The one place that talks to Yahoo Finance (tests replace it with a recorded frame)."""
    import yfinance as yf

    return yf.download(ticker, start=start, end=end, auto_adjust=False, progress=False, threads=False)


def _flatten_yahoo(frame: pd.DataFrame) -> pd.DataFrame:
    # Recent yfinance returns (field, ticker) column pairs even for one ticker, with dates in the index.
    if isinstance(frame.columns, pd.MultiIndex):
        frame = frame.copy()
        frame.columns = frame.columns.get_level_values(0)
    if not any(c in frame.columns for c in DATE_COLUMNS):
        frame = frame.reset_index()
        frame = frame.rename(columns={frame.columns[0]: "Date"})
    return frame


def load_yahoo(ticker: str, start: str | None, end: str | None, cache_dir: Path) -> pd.DataFrame:
    """Download `ticker` with yfinance, caching it as CSV; a cached file is reused."""
    cache = Path(cache_dir) / f"{ticker}_{start or 'first'}_{end or 'last'}.csv"
    if cache.exists():
        log.info("using cached download %s", cache)
        return pd.read_csv(cache)
    offline_hint = "use data.source=sample (bundled prices) or data.source=csv data.path=<file>"
    try:
        frame = yf_download(ticker, start, end)
    except Exception as exc:  # yfinance raises for some failures and only logs for others
        raise DataError(f"ticker {ticker!r}: Yahoo Finance download failed ({exc}); {offline_hint}") from exc
    if frame is None or len(frame) == 0:
        raise DataError(f"ticker {ticker!r}: Yahoo Finance returned no rows (offline?); {offline_hint}")
    frame = _flatten_yahoo(frame)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(cache)
    log.info("downloaded %d rows of %s to %s", len(frame), ticker, cache)
    return frame


def read_source(
    source: str,
    ticker: str = "AAPL",
    path: str | None = None,
    start: str | None = None,
    end: str | None = None,
    data_dir: str | Path = "data",
) -> pd.DataFrame:
    """Raw frame of one series from `sample`, `yahoo` or `csv` (Yahoo's column layout)."""
    data_dir = Path(data_dir)
    if source == "sample":
        file = data_dir / "sample" / f"{ticker}.csv"
        if not file.exists():
            have = sorted(p.stem for p in (data_dir / "sample").glob("*.csv"))
            raise DataError(
                f"ticker {ticker!r} is not in the bundled sample ({file} missing); bundled: {have}. "
                "Use data.source=yahoo or data.source=csv data.path=<file> for other series."
            )
        return pd.read_csv(file)
    if source == "yahoo":
        return load_yahoo(ticker, start, end, data_dir / "cache")
    if source == "csv":
        if not path:
            raise DataError("data.source=csv needs data.path=<file.csv>")
        if not Path(path).exists():
            raise DataError(f"data.path {path!r} does not exist")
        return pd.read_csv(path)
    raise DataError(f"data.source {source!r} is not one of {SOURCES}")


def pick_feature(frame: pd.DataFrame, feature: str) -> str:
    """Resolve `auto` to `Adj Close` when present, else `Close`; check the column exists."""
    if feature == "auto":
        for name in ("Adj Close", "Close", "adj_close", "close"):
            if name in frame.columns:
                return name
        raise DataError(f"no 'Adj Close' or 'Close' column; columns are {list(frame.columns)}")
    if feature not in frame.columns:
        raise DataError(f"data.feature {feature!r} not in columns {list(frame.columns)}")
    return feature


def clean_series(
    frame: pd.DataFrame, feature: str, start: str | None = None, end: str | None = None
) -> pd.Series:
    """Integrity step: one positive finite price per date, sorted by date; logs what each rule removed."""
    date_col = next((c for c in DATE_COLUMNS if c in frame.columns), None)
    if date_col is None:
        raise DataError(f"no date column (one of {DATE_COLUMNS}); columns are {list(frame.columns)}")
    dates = pd.to_datetime(frame[date_col], errors="coerce", utc=True).dt.tz_localize(None).dt.normalize()
    prices = pd.to_numeric(frame[feature], errors="coerce")
    series = pd.Series(prices.to_numpy(dtype=np.float64), index=dates, name=feature)

    removed: dict[str, int] = {}
    n = len(series)
    series = series[series.index.notna()]
    removed["unparseable date"] = n - len(series)
    series = series.sort_index(kind="stable")
    n = len(series)
    series = series[~series.index.duplicated(keep="last")]
    removed["duplicate date"] = n - len(series)
    n = len(series)
    series = series[np.isfinite(series.to_numpy())]
    removed["non-finite price"] = n - len(series)
    n = len(series)
    series = series[series > 0]
    removed["non-positive price"] = n - len(series)
    for rule, count in removed.items():
        if count:
            log.warning("cleaning: removed %d rows (%s)", count, rule)
    if start or end:
        n = len(series)
        series = series.loc[start:end]
        log.info("kept %d of %d rows within data.start=%s, data.end=%s", len(series), n, start, end)
    series.index.name = "Date"
    return series
