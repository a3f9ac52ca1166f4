"""Local inference: `predict_next_from_values` and `python -m closecast.predict`."""

from __future__ import annotations

import argparse
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from closecast.artifact import ArtifactError, load_artifact
from closecast.forecaster import Forecaster, InputError, parse_device


@lru_cache(maxsize=8)
def _forecaster(path: str, mtime_ns: int, device: str) -> Forecaster:
    # Keyed on the file's mtime, so a republished artifact is picked up without a restart.
    return Forecaster(load_artifact(path), device=device)


def load_forecaster(checkpoint_path: str | Path, device: str | None = None) -> Forecaster:
    """Load (or reuse) the artifact at `checkpoint_path` on `device`."""
    path = Path(checkpoint_path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} not found; train one with `make train`")
    dev = parse_device(device)
    return _forecaster(str(path.resolve()), path.stat().st_mtime_ns, str(dev))


def predict_next_from_values(
    values: Any,
    checkpoint_path: str | Path = "checkpoints/best.pt",
    device: str | None = None,
    quantiles: Any = None,
) -> tuple[float, dict[str, Any]]:
    """Next value after `values` (prices, oldest first) and the checkpoint's metadata; with `quantiles`
    (levels in (0, 1)) the metadata holds them under `quantiles`, as `/predict` answers them."""
    forecaster = load_forecaster(checkpoint_path, device)
    result = forecaster.predict(values, quantiles=quantiles)
    meta = dict(forecaster.metadata)
    meta.update(checkpoint_path=str(checkpoint_path), device=str(forecaster.device), **result)
    return result["prediction"], meta


CSV_WAY_OUT = "pass a CSV of dates and prices (Yahoo layout), or give the values as arguments"
TICKER_COLUMNS = ("Ticker", "ticker", "Symbol", "symbol")


def read_csv_prices(path: Path, column: str | None = None) -> tuple[list[float], str]:
    """The prices of `path` (oldest first, cleaned as for training) and the series' name.

    The name is the file's ticker column when it has one, else the file's stem.
    """
    from closecast.integrity import clean_series, parse_prices
    from closecast.sources import DATE_COLUMNS, DataError, read_csv_file

    try:
        frame = read_csv_file(path, "--csv", CSV_WAY_OUT)
        column = column or next((c for c in ("Adj Close", "Close") if c in frame.columns), None)
        if column is None or column not in frame.columns:
            raise InputError(
                f"--csv {str(path)!r}: no column {column or 'Adj Close/Close'} "
                f"(columns: {list(frame.columns)}); name the price column with --column"
            )
        name = path.stem
        tickers = next((frame[c].dropna() for c in TICKER_COLUMNS if c in frame.columns), None)
        if tickers is not None and len(tickers):
            name = str(tickers.iloc[-1])
        if any(c in frame.columns for c in DATE_COLUMNS):
            prices = clean_series(frame, column, name=f"--csv {str(path)!r}")
        else:  # no dates: the rows are taken in file order
            prices = parse_prices(frame[column])
    except DataError as exc:
        raise InputError(str(exc)) from None
    return prices.tolist(), name


def _warn_other_series(name: str, ticker: Any) -> None:
    """A forecast for one stock from a model trained on another is rarely what the user meant."""
    if ticker and name.upper() != str(ticker).upper():
        print(
            f"warning: the CSV holds {name!r} but the checkpoint was trained on {ticker!r}; "
            "its forecast may not fit this series (train one on it with data.ticker=...)",
            file=sys.stderr,
        )


def _read_values(args: argparse.Namespace) -> list[float]:
    if args.values:
        tokens = args.values
    else:
        tokens = sys.stdin.read().replace(",", " ").split()
    out = []
    for token in tokens:
        try:
            out.append(float(token))
        except ValueError:
            raise InputError(f"value {token!r} is not a number") from None
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI entry: print the forecast as JSON; exit 2 on bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m closecast.predict",
        description="Forecast the next close(s) from recent closes (arguments, stdin or --csv).",
    )
    parser.add_argument("values", nargs="*", help="recent prices, oldest first")
    parser.add_argument(
        "--checkpoint", default="checkpoints/best.pt", help="artifact path (default: %(default)s)"
    )
    parser.add_argument("--device", default=None, help="cpu (default) or cuda")
    parser.add_argument("--csv", type=Path, help="read prices from this CSV (Yahoo layout)")
    parser.add_argument("--column", help="CSV column to read (default Adj Close, else Close)")
    parser.add_argument("--horizon", type=int, default=None, help="steps ahead (up to the model's horizon)")
    parser.add_argument("--interval", type=float, default=None, help="prediction interval level, e.g. 0.9")
    parser.add_argument(
        "--quantiles", type=float, nargs="+", default=None, help="quantile levels in (0, 1): 0.05 0.5 0.95"
    )
    args = parser.parse_args(argv)
    try:
        forecaster = load_forecaster(args.checkpoint, args.device)
        if args.csv:
            values, name = read_csv_prices(args.csv, args.column)
            _warn_other_series(name, forecaster.metadata.get("ticker"))
        else:
            values = _read_values(args)
        result = forecaster.predict(
            np.asarray(values), horizon=args.horizon, interval=args.interval, quantiles=args.quantiles
        )
    except (InputError, ArtifactError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    meta = forecaster.metadata
    result.update(
        checkpoint=str(args.checkpoint),
        ticker=meta.get("ticker"),
        window=forecaster.window,
        horizon_max=forecaster.horizon,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
