"""The integrity step: a raw frame becomes one positive finite price per date, or a clear refusal.

Nothing is dropped silently and little is dropped at all: rows lost to each rule are counted, and more
than `data.max_dropped_frac` of them, a price column that mostly does not parse, or dates that read two
ways stop the run with a `DataError` that says what was found and which key changes it. A date row with an
empty value (a market holiday, as FRED and central-bank exports write it) is no bad row: it is skipped
and counted apart. What would train badly though every row is valid is refused too, each with the key
that accepts it: a gap of more than `data.max_gap_days` trading days (a return across it is no daily
return), a one-day move beyond `data.max_daily_move` (most often an unadjusted split) and a date given
twice with different prices (`data.duplicate_dates`)."""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pandas as pd

from closecast.data.checks import DUPLICATE_DATES, check_series, refuse_conflicting_duplicates
from closecast.data.csv_format import DATE_COLUMNS, NO_DATE_COLUMN
from closecast.errors import DataError

log = logging.getLogger(__name__)


ISO = "ISO8601"


# "1,234.50": commas that group thousands, which `to_numeric` does not read.
GROUPED_NUMBER = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"


FORMAT_EXAMPLE = "%d/%m/%Y"


# What a cell holds on a day without a price: nothing, or FRED's ".".
EMPTY_CELLS = ("", ".")


def _to_dates(text: pd.Series, fmt: str) -> pd.Series:
    dates = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    return dates.dt.tz_localize(None).dt.normalize()


def _guess(value: str, dayfirst: bool) -> str | None:
    from pandas.tseries.api import guess_datetime_format

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when its guess contradicts `dayfirst`
        return guess_datetime_format(value, dayfirst=dayfirst)


def _candidate_formats(text: pd.Series) -> list[str]:
    """Formats that read a spread of the values, in their month-first and day-first readings."""
    values = text.dropna()
    formats: list[str] = []
    for value in values.iloc[:: max(1, len(values) // 20)]:
        for dayfirst in (False, True):
            fmt = _guess(value, dayfirst)
            if fmt and fmt not in formats:
                formats.append(fmt)
    return formats


def parse_dates(raw: pd.Series, date_format: str | None, allowed: float, name: str) -> tuple[pd.Series, str]:
    """Dates of `raw` (NaT where unreadable) and the format they were read with.

    With no `date_format`, ISO 8601 (YYYY-MM-DD) comes first; another format is inferred only when one
    reading explains all but `allowed` rows. Dates that two readings both explain, differently (day-first
    and month-first), are refused as ambiguous.
    """
    if pd.api.types.is_datetime64_any_dtype(raw):  # a fresh download: dates already parsed
        dates = raw.dt.tz_localize(None) if raw.dt.tz is not None else raw
        return dates.dt.normalize(), "datetime"
    text = raw.astype("str").str.strip().where(raw.notna())
    if date_format:
        try:
            return _to_dates(text, date_format), date_format
        except ValueError as exc:  # a directive strptime does not know
            raise DataError(
                f"data.date_format={date_format} is not a date format ({exc}); "
                f"e.g. data.date_format={FORMAT_EXAMPLE}"
            ) from None
    iso = _to_dates(text, ISO)
    if iso.isna().sum() <= allowed:
        return iso, ISO
    readings = {fmt: _to_dates(text, fmt) for fmt in _candidate_formats(text)}
    fits = [fmt for fmt, dates in readings.items() if dates.isna().sum() <= allowed]
    for other in fits[1:]:
        first, second = readings[fits[0]], readings[other]
        differ = first.notna() & second.notna() & (first != second)
        if differ.any():
            i = differ.idxmax()
            raise DataError(
                f"{name}: dates are ambiguous: {text[i]!r} reads as {first[i].date()} with {fits[0]} and as "
                f"{second[i].date()} with {other}, and each reading fits the whole file; say which with "
                f"data.date_format={fits[0]} or data.date_format={other}"
            )
    if fits:
        return readings[fits[0]], fits[0]
    if not readings:
        return iso, ISO
    best = min(readings, key=lambda fmt: readings[fmt].isna().sum())
    return readings[best], best


def parse_prices(raw: pd.Series) -> pd.Series:
    """Prices of `raw` as floats (NaN where unreadable); reads thousands separators as in "1,234.50"."""
    if pd.api.types.is_numeric_dtype(raw):
        return raw.astype(np.float64)
    text = raw.astype("str").str.strip().where(raw.notna())
    grouped = text.str.contains(",", regex=False, na=False)
    if grouped.any() and text[grouped].str.fullmatch(GROUPED_NUMBER).all():
        text = text.str.replace(",", "", regex=False)
    return pd.to_numeric(text, errors="coerce").astype(np.float64)


def _date_note(raw: pd.Series, bad: pd.Series, fmt: str, date_format: str | None) -> str:
    """How the dates were read, one that was not, and the key to read them otherwise."""
    if not bad.any():
        return f"read as {fmt}"
    first = raw[bad].iloc[0]
    value = str(first)
    if date_format:
        return f"{value!r} does not match data.date_format={date_format}; correct it or the file"
    guess = (_guess(value.strip(), dayfirst=True) if pd.notna(first) else None) or FORMAT_EXAMPLE
    return f"read as {fmt}, {value!r} does not fit; give the file's format: data.date_format={guess}"


def clean_series(
    frame: pd.DataFrame,
    feature: str,
    start: str | None = None,
    end: str | None = None,
    name: str = "series",
    date_format: str | None = None,
    max_dropped_frac: float = 0.01,
    max_gap_days: int | None = None,
    max_daily_move: float | None = None,
    duplicate_dates: str = "last",
) -> pd.Series:
    """One positive finite price per date, sorted by date, from `frame`'s date and `feature` columns.

    Logs what each rule removed and the empty rows skipped; refuses (DataError naming `name`) a price
    column that mostly does not parse, dates that do not parse or read two ways, dropping more than
    `max_dropped_frac` of rows and, within `start`..`end`, the checks of `check_series` (off by default
    here; training's config turns them on).
    """
    if not 0 <= max_dropped_frac <= 1:
        raise DataError(f"data.max_dropped_frac must be between 0 and 1, got {max_dropped_frac}")
    if duplicate_dates not in DUPLICATE_DATES:
        raise DataError(f"data.duplicate_dates must be one of {DUPLICATE_DATES}, got {duplicate_dates!r}")
    date_col = next((c for c in DATE_COLUMNS if c in frame.columns), None)
    if date_col is None:
        raise DataError(
            f"{name}: no date column (one of {DATE_COLUMNS}, or a first column of dates); columns are "
            f"{list(frame.columns)}; {NO_DATE_COLUMN}"
        )
    n = len(frame)
    if n == 0:
        raise DataError(f"{name}: a header but no rows")
    allowed = max_dropped_frac * n
    raw_dates, raw_prices = frame[date_col].reset_index(drop=True), frame[feature].reset_index(drop=True)
    dates, fmt = parse_dates(raw_dates, date_format, allowed, name)
    prices = parse_prices(raw_prices)

    bad_date = dates.isna()
    date_note = _date_note(raw_dates, bad_date, fmt, date_format)
    if bad_date.sum() > n / 2:
        raise DataError(f"{name}: {bad_date.sum()} of {n} dates in {date_col!r} do not parse ({date_note})")
    empty = raw_prices.isna() | raw_prices.astype("str").str.strip().isin(EMPTY_CELLS)
    bad_text = prices.isna() & ~empty
    given = int((~empty).sum())
    price_note = f"e.g. {str(raw_prices[bad_text].iloc[0])!r}" if bad_text.any() else ""
    if bad_text.sum() > given / 2:
        raise DataError(
            f"{name}: {bad_text.sum()} of {given} values in column {feature!r} are not numbers "
            f"({price_note}); correct the file or choose another column with data.feature=<column>"
        )
    finite = np.isfinite(prices)
    rules = {
        "unparseable date": bad_date,
        "unparseable price": ~bad_date & bad_text,
        "non-finite price": ~bad_date & ~bad_text & ~empty & ~finite,
        "non-positive price": ~bad_date & finite & (prices <= 0),
    }
    removed = {rule: int(mask.sum()) for rule, mask in rules.items()}
    skipped = int((~bad_date & empty).sum())  # a day without a price: not a bad row
    keep = ~(bad_date | bad_text | ~finite | (prices <= 0))
    series = pd.Series(prices[keep].to_numpy(), index=pd.DatetimeIndex(dates[keep]), name=feature)
    series = series.sort_index(kind="stable")
    if duplicate_dates == "error":
        refuse_conflicting_duplicates(series, name)
    removed["duplicate date"] = int(series.index.duplicated(keep="last").sum())
    series = series[~series.index.duplicated(keep="last")]

    notes = {"unparseable date": date_note, "unparseable price": price_note}
    counts = ", ".join(
        f"{count} {rule}" + (f" ({notes[rule]})" if rule in notes else "")
        for rule, count in removed.items()
        if count
    )
    dropped = sum(removed.values())
    if dropped > allowed:
        raise DataError(
            f"{name}: the integrity step would drop {dropped} of {n} rows ({100 * dropped / n:.1f}%, more "
            f"than data.max_dropped_frac={max_dropped_frac}): {counts}; correct the file, or allow it with "
            f"data.max_dropped_frac={math.ceil(1000 * dropped / n) / 1000}"
        )
    if dropped:
        log.warning("cleaning %s: removed %d of %d rows: %s", name, dropped, n, counts)
    if skipped:
        log.info("cleaning %s: skipped %d dated rows with no value (days without trading)", name, skipped)
    if start or end:
        n = len(series)
        series = series.loc[start:end]
        log.info("kept %d of %d rows within data.start=%s, data.end=%s", len(series), n, start, end)
    series.index.name = "Date"
    check_series(series, name, max_gap_days, max_daily_move)
    return series
