"""What a Yahoo Finance download looks like, recorded, so no test touches the network."""

import numpy as np
import pandas as pd


def recorded_frame(n: int = 300) -> pd.DataFrame:
    """A frame shaped like yfinance>=0.2.48's download: (field, ticker) columns, dates in the index."""
    dates = pd.bdate_range("2020-01-01", periods=n, name="Date")
    close = 100 + np.cumsum(np.random.default_rng(0).normal(0, 1, n))
    fields = {
        "Adj Close": close * 0.98,
        "Close": close,
        "High": close + 1,
        "Low": close - 1,
        "Open": close,
        "Volume": np.full(n, 1000),
    }
    columns = pd.MultiIndex.from_tuples([(f, "TEST") for f in fields], names=["Price", "Ticker"])
    return pd.DataFrame(np.column_stack(list(fields.values())), index=dates, columns=columns)
