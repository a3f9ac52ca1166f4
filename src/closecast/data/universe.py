"""Sources of many series at once: one panel file (wide or long), several CSV files, the S&P 500 stocks
shipped with `skfolio`, and one Yahoo download of several tickers. Each yields one raw frame per series
in the layout of a single series (a `Date` column and `Close`, with `High`/`Low` where the source has
them), which the integrity step then checks series by series (`closecast.data.cleaning`)."""

from __future__ import annotations

import glob
import logging
from pathlib import Path

import pandas as pd

from closecast.data import sources
from closecast.data.csv_format import DATE_COLUMNS, NO_DATE_COLUMN, CsvFormat, date_column, with_date_first
from closecast.data.sources import load_yahoo, read_csv_file
from closecast.errors import DataError

log = logging.getLogger(__name__)


LAYOUTS = ("auto", "wide", "long")


# Columns that name a row's series in a long file; `unique_id, ds, y` is the convention of the Nixtla tools.
SERIES_COLUMNS = ("series", "ticker", "symbol", "unique_id")


LONG_NAMES = {"ds": "Date", "y": "Close"}


PARQUET = (".parquet", ".pq")


SKFOLIO_HINT = "install it with pip install 'closecast[train]' (or pip install skfolio==1.12.2)"


def csv_paths(path: str | list[str] | tuple[str, ...] | None) -> list[Path] | None:
    """The files of a several-file CSV source (a list, or a pattern with * ? [), in order; None for a
    single file."""
    if path is None:
        return None
    if isinstance(path, str):
        if not any(c in path for c in "*?["):
            return None
        files = sorted(Path(p) for p in glob.glob(path))
        if not files:
            raise DataError(
                f"data.path={path!r} matches no file; give an existing pattern or a list of CSV files"
            )
        return files
    files = [Path(str(p)) for p in path]
    if not files:
        raise DataError("data.path is an empty list; list CSV files, e.g. data.path=[a.csv,b.csv]")
    stems = [p.stem for p in files]
    repeated = sorted({s for s in stems if stems.count(s) > 1})
    if repeated:
        raise DataError(
            f"data.path lists several files named {repeated}: each series is named by its file's stem, "
            "so rename them apart"
        )
    return files


def _read_table(path: Path, fmt: CsvFormat) -> pd.DataFrame:
    way_out = "data.path needs a CSV or Parquet file with a date column and one column per series (wide) or "
    way_out += f"a series column ({', '.join(SERIES_COLUMNS)}), a date column and a close column (long)"
    if path.suffix.lower() not in PARQUET:
        return read_csv_file(path, "data.path", way_out, fmt)
    if not path.is_file():
        raise DataError(f"data.path {str(path)!r} does not exist or is not a file; {way_out}")
    try:
        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise DataError(
            f"data.path {str(path)!r}: reading Parquet needs pyarrow ({exc}); pip install pyarrow"
        ) from None
    except Exception as exc:  # pyarrow raises its own error types for a damaged file
        raise DataError(
            f"data.path {str(path)!r} is not a readable Parquet file ({exc}); {way_out}"
        ) from None
    if fmt.date_column is None:
        return frame
    return with_date_first(frame, date_column(frame, fmt.date_column, f"data.path {str(path)!r}"))


def _with_date_column(frame: pd.DataFrame) -> pd.DataFrame:
    if not any(c in frame.columns for c in (*DATE_COLUMNS, "ds")) and isinstance(
        frame.index, pd.DatetimeIndex
    ):
        frame = frame.reset_index()
        frame = frame.rename(columns={frame.columns[0]: "Date"})
    return frame


def split_long(frame: pd.DataFrame, name: str) -> dict[str, pd.DataFrame]:
    """A long frame (one row per series and date) as one frame per series, in order of appearance."""
    key = next(c for c in SERIES_COLUMNS if c in frame.columns)
    frame = frame.rename(
        columns={k: v for k, v in LONG_NAMES.items() if k in frame.columns and v not in frame}
    )
    if frame[key].isna().any():
        raise DataError(f"{name}: {int(frame[key].isna().sum())} rows have no {key!r}; fill or remove them")
    return {
        str(series): group.drop(columns=[key]).reset_index(drop=True)
        for series, group in frame.groupby(key, sort=False)
    }


def split_wide(frame: pd.DataFrame, name: str) -> dict[str, pd.DataFrame]:
    """A wide frame (a date column, one price column per series) as one frame per series; the empty cells
    before a series' first price and after its last (listed later, delisted) are not rows of it."""
    date_col = next((c for c in DATE_COLUMNS if c in frame.columns), None)
    if date_col is None:
        raise DataError(
            f"{name}: no date column (one of {DATE_COLUMNS}, or a first column of dates); columns are "
            f"{list(frame.columns)}; {NO_DATE_COLUMN}"
        )
    frames, empty = {}, []
    for column in frame.columns.drop(date_col):
        cells = frame[column]
        if isinstance(cells.dtype, pd.StringDtype) or cells.dtype == object:
            cells = cells.where(cells.astype("str").str.strip() != "")
        given = cells.notna().to_numpy().nonzero()[0]
        if not len(given):
            empty.append(str(column))
            continue
        rows = slice(given[0], given[-1] + 1)
        frames[str(column)] = pd.DataFrame(
            {"Date": frame[date_col].iloc[rows].to_numpy(), "Close": cells.iloc[rows].to_numpy()}
        )
    if empty:
        log.warning("%s: dropped %d columns without a single price: %s", name, len(empty), ", ".join(empty))
    return frames


def panel_frames(frame: pd.DataFrame, layout: str, name: str) -> dict[str, pd.DataFrame]:
    """One raw frame per series of a panel `frame` in `layout` (auto: long when it has a series column)."""
    if layout not in LAYOUTS:
        raise DataError(f"data.layout {layout!r} is not one of {LAYOUTS}")
    frame = _with_date_column(frame)
    if layout == "auto":
        layout = "long" if any(c in frame.columns for c in SERIES_COLUMNS) else "wide"
    if layout == "long":
        if not any(c in frame.columns for c in SERIES_COLUMNS):
            raise DataError(
                f"{name}: data.layout=long needs a series column, one of {SERIES_COLUMNS}; columns are "
                f"{list(frame.columns)}; or use data.layout=wide for one column per series"
            )
        return split_long(frame, name)
    return split_wide(frame, name)


def skfolio_frame() -> pd.DataFrame:
    """The 20 S&P 500 stocks shipped inside the installed `skfolio` package (adjusted closes from 1990)."""
    try:
        from skfolio.datasets import load_sp500_dataset
    except ImportError as exc:
        raise DataError(
            f"data.source=skfolio reads the skfolio package, which is missing ({exc}); {SKFOLIO_HINT}"
        ) from None
    return load_sp500_dataset()


def select(frames: dict[str, pd.DataFrame], tickers: list[str] | None, name: str) -> dict[str, pd.DataFrame]:
    """The series `tickers` names, in its order (all for None), or a DataError naming those missing."""
    if not frames:
        raise DataError(f"{name} holds no series")
    if tickers is None:
        return frames
    missing = [t for t in tickers if t not in frames]
    if missing:
        have = sorted(frames)
        shown = ", ".join(have[:30]) + (f", … ({len(have)} in all)" if len(have) > 30 else "")
        raise DataError(f"{name}: data.tickers {missing} are not in it; it holds {shown}")
    return {t: frames[t] for t in tickers}


def read_panel(
    source: str, path: str | None, layout: str, tickers: list[str] | None, fmt: CsvFormat | None = None
) -> dict[str, pd.DataFrame]:
    """The raw frames of a one-file universe (`panel` at `path`, or `skfolio`), selected by `tickers`;
    `fmt`: how a CSV file is written (detected where None)."""
    if source == "skfolio":
        name = "skfolio S&P 500 dataset"
        return select(panel_frames(skfolio_frame(), "wide", name), tickers, name)
    if not path or not isinstance(path, str):
        raise DataError(f"data.source=panel needs data.path=<file.csv|file.parquet>, got {path!r}")
    name = f"data.path {path!r}"
    return select(panel_frames(_read_table(Path(path), fmt or CsvFormat()), layout, name), tickers, name)


def download_yahoo(tickers: list[str], start: str | None, end: str | None, cache_dir: Path) -> list[str]:
    """Download the uncached `tickers` in one request and cache each apart; the tickers Yahoo returned
    nothing for (warned about by name, none cached)."""
    cached = {t: Path(cache_dir) / f"{t}_{start or 'first'}_{end or 'last'}.csv" for t in tickers}
    missing = [t for t in tickers if not cached[t].exists()]
    if not missing:
        return []
    try:
        frame = sources.yf_download(missing, start, end)  # looked up here, so tests can replace it
    except Exception as exc:  # yfinance raises for some failures and only logs for others
        raise DataError(
            f"tickers {missing}: Yahoo Finance download failed ({exc}); use data.source=sample, "
            "data.source=skfolio (offline) or data.source=panel data.path=<file>"
        ) from exc
    failed = []
    for ticker in missing:
        part = _ticker_part(frame, ticker)
        if part is None:
            failed.append(ticker)
            continue
        load_yahoo(ticker, start, end, cache_dir, frame=part)  # caches it
    if failed:
        log.warning(
            "Yahoo Finance returned no rows for %d of %d tickers: %s",
            len(failed),
            len(missing),
            ", ".join(failed),
        )
    return failed


def _ticker_part(frame: pd.DataFrame | None, ticker: str) -> pd.DataFrame | None:
    """One ticker's (field, ticker) columns of a several-ticker download, less the dates it has no rows."""
    if frame is None or len(frame) == 0 or not isinstance(frame.columns, pd.MultiIndex):
        return None
    level = next(
        (i for i in range(frame.columns.nlevels) if ticker in frame.columns.get_level_values(i)), None
    )
    if level is None:
        return None
    part = frame.xs(ticker, axis=1, level=level).dropna(how="all")
    return part if len(part) else None
