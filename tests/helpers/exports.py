"""CSV files written as spreadsheets and databases export them: another separator, a decimal comma, a date
column of another name."""

from __future__ import annotations

import numpy as np
import pandas as pd


def csv_export(
    n: int = 300, sep: str = ";", decimal: str = ",", date: str = "Timestamp", seed: int = 0
) -> tuple[str, np.ndarray]:
    """The text of a CSV export of `n` business days of closes from 2015 (fields separated by `sep`,
    `decimal` as the decimal mark, the date column named `date`) and its closes."""
    closes = np.round(100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, n))), 2)
    days = pd.bdate_range("2015-01-01", periods=n)
    rows = [f"{d:%Y-%m-%d}{sep}{f'{c:.2f}'.replace('.', decimal)}" for d, c in zip(days, closes, strict=True)]
    return "\n".join([f"{date}{sep}Close", *rows]) + "\n", closes
