"""Write the bundled sample prices (data/sample/*.csv) from bokeh-sampledata's public-domain stocks.

Run once by maintainers: `pip install bokeh-sampledata && python data/make_sample.py`.
The output is committed, so training never needs the package or the network.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")
YAHOO_COLUMNS = ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "sample")
    args = parser.parse_args()

    from bokeh_sampledata.stocks import data  # a maintainer-only dependency

    args.out.mkdir(parents=True, exist_ok=True)
    for ticker in TICKERS:
        frame = data[data["ticker"] == ticker].rename(
            columns={
                "date": "Date",
                "open": "Open",
                "high": "High",
                "low": "Low",
                "close": "Close",
                "adj_close": "Adj Close",
                "volume": "Volume",
            }
        )[YAHOO_COLUMNS]
        frame = frame.sort_values("Date")
        frame["Date"] = pd.to_datetime(frame["Date"]).dt.strftime("%Y-%m-%d")
        frame["Adj Close"] = frame["Adj Close"].round(6)
        path = args.out / f"{ticker}.csv"
        frame.to_csv(path, index=False)
        print(f"{ticker}: {len(frame)} rows, {frame['Date'].iloc[0]} .. {frame['Date'].iloc[-1]} -> {path}")


if __name__ == "__main__":
    main()
