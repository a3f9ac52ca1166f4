"""How a CSV file is written: its field separator, its decimal mark and its date column, each detected
from the file unless the config names it (`data.sep`, `data.decimal`, `data.date_column`). Exports from
spreadsheets in many locales separate fields with `;` and write `101,5` for 101.5; databases and loggers
call the date column `Timestamp` or leave it unnamed (a saved index)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

import pandas as pd

from closecast.errors import DataError

SEPARATORS = (",", ";", "\t", "|")


# What a config may write for a tab: bash and Hydra keep a typed `\t` as two characters.
SEPARATOR_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


DECIMALS = (".", ",")


# Column names that are a date column wherever they appear, in the order one is picked.
DATE_COLUMNS = ("Date", "date", "Datetime", "datetime", "Timestamp", "timestamp")


DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


SNIFFED_LINES = 50


@dataclass(frozen=True)
class CsvFormat:
    """A CSV file's separator, decimal mark and date column; None: detect each from the file."""

    sep: str | None = None
    decimal: str | None = None
    date_column: str | None = None

    def __post_init__(self) -> None:
        sep = SEPARATOR_NAMES.get(self.sep, self.sep) if self.sep is not None else None
        if sep is not None and (len(sep) != 1 or sep in "\"'\n\r" or sep.isalnum()):
            raise DataError(
                f"data.sep={self.sep!r} is not a field separator; use one of "
                f"{', '.join(repr(s) for s in SEPARATORS)} (data.sep=tab for a tab), or null to detect it"
            )
        if self.decimal is not None and self.decimal not in DECIMALS:
            raise DataError(f"data.decimal={self.decimal!r} is not one of {DECIMALS}; or null to detect it")
        object.__setattr__(self, "sep", sep)
        object.__setattr__(self, "date_column", None if self.date_column is None else str(self.date_column))


def _fields(line: str, sep: str) -> list[str]:
    return next(csv.reader([line], delimiter=sep), [])


def detect_sep(lines: list[str]) -> str:
    """The separator that splits every line of `lines` into the same number (more than one) of fields,
    the most fields first; `,` when none does (a one-column file, or a ragged one the reader reports)."""
    lines = [line for line in lines if line.strip()]
    fitting = []
    for sep in SEPARATORS:
        counts = {len(_fields(line, sep)) for line in lines}
        if len(counts) == 1 and (count := counts.pop()) > 1:
            fitting.append((count, -SEPARATORS.index(sep), sep))
    return max(fitting)[2] if fitting else ","


def detect_decimal(lines: list[str], sep: str) -> str:
    """`,` when `sep` is not a comma and a data cell of `lines` reads as a decimal-comma number
    (`101,5`); else `.`. A comma-separated file keeps `.`: its `1,234` is a thousands separator."""
    if sep == ",":
        return "."
    cells = (cell.strip() for line in lines[1:] for cell in _fields(line, sep))
    return "," if any(DECIMAL_COMMA.fullmatch(cell) for cell in cells) else "."


def resolve(fmt: CsvFormat, head: str) -> tuple[str, str]:
    """The separator and decimal mark to read a file whose first characters are `head` with."""
    lines = head.splitlines()[:SNIFFED_LINES]
    if len(lines) > 1 and not head.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of the sample may be cut short
    sep = fmt.sep or detect_sep(lines)
    return sep, fmt.decimal or detect_decimal(lines, sep)


def refuse_one_merged_column(frame: pd.DataFrame, where: str, sep: str) -> None:
    """A DataError when `frame` has one column whose name holds another separator (`Date;Close`): the
    file was read with the wrong `sep`."""
    if len(frame.columns) != 1:
        return
    name = str(frame.columns[0])
    other = next((s for s in SEPARATORS if s != sep and s in name), None)
    if other is not None:
        shown = "tab" if other == "\t" else repr(other)
        override = "data.sep=tab" if other == "\t" else f'"data.sep={shown}"'  # quoted for the shell
        raise DataError(
            f"{where}: one column {name!r} looks like {shown}-separated data; set data.sep={shown} "
            f"(on the command line: {override})"
        )


def _reads_as_dates(column: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    if pd.api.types.is_numeric_dtype(column) or column.isna().all():
        return False
    dates = pd.to_datetime(column.astype("str"), errors="coerce", format="mixed")
    return bool(dates.notna().mean() > 0.5)


def date_column(frame: pd.DataFrame, configured: str | None, where: str) -> str | None:
    """The date column of `frame`: `configured`, else the first of `DATE_COLUMNS` it has, else its first
    column when that reads as dates (an unnamed index); None when there is none."""
    if configured is not None:
        if configured not in frame.columns:
            raise DataError(
                f"{where}: data.date_column={configured!r} is not a column; columns are "
                f"{list(map(str, frame.columns))}; set data.date_column=<column> (null: detect it)"
            )
        return configured
    named = next((c for c in DATE_COLUMNS if c in frame.columns), None)
    if named is not None:
        return named
    if len(frame.columns) > 1 and _reads_as_dates(frame[frame.columns[0]]):
        return str(frame.columns[0])
    return None


def with_date_first(frame: pd.DataFrame, column: str | None) -> pd.DataFrame:
    """`frame` with its date `column` named `Date`, where the rest of the data path looks for it (another
    column of a date name is renamed out of the way); unchanged when it already is the first date name."""
    if column is None or column == next((c for c in DATE_COLUMNS if c in frame.columns), None):
        return frame
    aside = {c: f"{c} (not data.date_column)" for c in DATE_COLUMNS if c in frame.columns and c != column}
    return frame.rename(columns={**aside, column: "Date"})


NO_DATE_COLUMN = "name it with data.date_column=<column>"
