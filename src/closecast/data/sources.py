"""Where one series' prices come from: the bundled sample, Yahoo Finance (cached) or a CSV file. Sources
of many series at once are in `closecast.data.universe`."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from closecast.data.csv_format import (
    DATE_COLUMNS,
    CsvFormat,
    date_column,
    refuse_one_merged_column,
    resolve,
    with_date_first,
)
from closecast.errors import DataError

__all__ = ["DATE_COLUMNS", "SOURCES", "CsvFormat", "pick_feature", "read_csv_file", "read_source"]

log = logging.getLogger(__name__)


SOURCES = ("sample", "yahoo", "csv", "panel", "skfolio")


def read_csv_file(path: Path, what: str, way_out: str, fmt: CsvFormat | None = None) -> pd.DataFrame:
    """`path` as a frame, read with `fmt`'s separator and decimal mark (detected where None) and its date
    column named `Date` (`closecast.data.csv_format`); each way a file can be unreadable becomes a
    DataError naming it and `way_out`."""
    fmt = fmt or CsvFormat()
    where = f"{what} {str(path)!r}"
    if path.is_dir():
        raise DataError(f"{where} is a directory, not a CSV file; {way_out}")
    if not path.exists():
        raise DataError(f"{where} does not exist; {way_out}")
    try:
        with path.open("rb") as fh:
            head = fh.read(8192)
        if b"\x00" in head:
            raise DataError(f"{where} is a binary file, not a text CSV; {way_out}")
        # utf-8-sig: a byte-order mark (spreadsheet exports) must not become part of the first column's name
        sep, decimal = resolve(fmt, head.decode("utf-8-sig", errors="ignore"))
        frame = pd.read_csv(path, encoding="utf-8-sig", sep=sep, decimal=decimal)
    except pd.errors.EmptyDataError:
        raise DataError(f"{where} is empty (no header row); {way_out}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not UTF-8 text ({exc.reason} at byte {exc.start}); {way_out}") from None
    except pd.errors.ParserError as exc:
        reason = " ".join(str(exc).split())
        raise DataError(f"{where} is not a well-formed CSV ({reason}); {way_out}") from None
    except OSError as exc:
        raise DataError(f"{where} cannot be read ({exc.strerror or exc}); {way_out}") from None
    refuse_one_merged_column(frame, where, sep)
    return with_date_first(frame, date_column(frame, fmt.date_column, where))


def yf_download(ticker: str | list[str], start: str | None, end: str | None) -> pd.DataFrame:
    """The one place that talks to Yahoo Finance, for one ticker or a list in one request (tests replace
    it with a recorded frame)."""
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


def load_yahoo(
    ticker: str, start: str | None, end: str | None, cache_dir: Path, frame: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Download `ticker` with yfinance (or take its part `frame` of a several-ticker download), caching
    it as CSV; a cached file is reused."""
    cache = Path(cache_dir) / f"{ticker}_{start or 'first'}_{end or 'last'}.csv"
    if cache.exists():
        log.info("using cached download %s", cache)
        return read_csv_file(cache, "cached download", "delete it to download again")
    offline_hint = "use data.source=sample (bundled prices) or data.source=csv data.path=<file>"
    try:
        frame = yf_download(ticker, start, end) if frame is None else frame
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
    fmt: CsvFormat | None = None,
) -> pd.DataFrame:
    """Raw frame of one series from `sample`, `yahoo` or `csv` (Yahoo's column layout); `fmt`: how the
    `csv` file is written (detected where None)."""
    data_dir = Path(data_dir)
    if source == "sample":
        file = data_dir / "sample" / f"{ticker}.csv"
        if not (data_dir / "sample").is_dir():  # e.g. `closecast-train` from an installed package
            raise DataError(
                f"the bundled sample is not here ({data_dir / 'sample'}: no such folder; it ships with the "
                "repository, not the package). Use data.source=csv data.path=<file>, data.source=skfolio "
                "or data.source=yahoo, or run from a checkout."
            )
        if not file.exists():
            have = sorted(p.stem for p in (data_dir / "sample").glob("*.csv"))
            raise DataError(
                f"ticker {ticker!r} is not in the bundled sample ({file} missing); bundled: {have}. "
                "Use data.source=yahoo or data.source=csv data.path=<file> for other series."
            )
        return read_csv_file(file, "bundled sample", "restore data/sample/ from the repository")
    if source == "yahoo":
        return load_yahoo(ticker, start, end, data_dir / "cache")
    if source == "csv":
        if not path:
            raise DataError("data.source=csv needs data.path=<file.csv>")
        way_out = "data.path needs a CSV file with a header row, a date column and Close or Adj Close"
        return read_csv_file(Path(path), "data.path", way_out, fmt)
    raise DataError(f"data.source {source!r} is not one of {SOURCES}")


def pick_feature(frame: pd.DataFrame, feature: str, name: str = "series") -> str:
    """Resolve `auto` to `Adj Close` when present, else `Close`; check the column exists."""
    if feature == "auto":
        for column in ("Adj Close", "Close", "adj_close", "close"):
            if column in frame.columns:
                return column
        raise DataError(
            f"{name}: no 'Adj Close' or 'Close' column; columns are {list(frame.columns)}; "
            "name the price column with data.feature=<column>"
        )
    if feature not in frame.columns:
        raise DataError(f"{name}: data.feature {feature!r} not in columns {list(frame.columns)}")
    return feature
