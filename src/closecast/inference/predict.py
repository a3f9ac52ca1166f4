"""Local inference: `predict_next_from_values` and `python -m closecast.predict`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from closecast.artifacts.schema import load_artifact
from closecast.errors import InputError
from closecast.inference.forecaster import Forecaster, parse_device


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
    high: Any = None,
    low: Any = None,
    series: str | None = None,
    normalize: str | None = None,
) -> tuple[float, dict[str, Any]]:
    """Next value after `values` (prices, oldest first) of `series` and the checkpoint's metadata for it;
    with `quantiles` (levels in (0, 1)) the metadata holds them under `quantiles`, as `/predict` answers
    them. `series` is required when the checkpoint holds several; `normalize='window'` (without `series`)
    answers a series the network never saw, normalized by `values` themselves (at least 4 × window of
    them). A model with range inputs needs each day's `high` and `low` too (one per value)."""
    forecaster = load_forecaster(checkpoint_path, device)
    result = forecaster.predict(
        values, quantiles=quantiles, high=high, low=low, series=series, normalize=normalize
    )
    meta = forecaster.metadata_of(result["series"])
    meta.update(checkpoint_path=str(checkpoint_path), device=str(forecaster.device), **result)
    return result["prediction"], meta


CSV_WAY_OUT = "pass a CSV of dates and prices (Yahoo layout), or give the values as arguments"


HIGH_LOW_WAY_OUT = "this model has range inputs: pass a CSV with High and Low columns (Yahoo layout)"


TICKER_COLUMNS = ("Ticker", "ticker", "Symbol", "symbol")


def read_csv_prices(
    path: Path, column: str | None = None, high_low: bool = False
) -> tuple[list[float], str, dict[str, list[float]]]:
    """The prices of `path` (oldest first, cleaned as for training), the series' name and, with
    `high_low`, each day's `high` and `low` (cleaned and checked as for training).

    The name is the file's ticker column when it has one, else the file's stem.
    """
    from closecast.data.cleaning import clean_series, parse_prices
    from closecast.data.high_low import clean_high_low, high_low_columns
    from closecast.data.sources import DATE_COLUMNS, read_csv_file
    from closecast.errors import DataError

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
        where = f"--csv {str(path)!r}"
        ranges: dict[str, list[float]] = {}
        if any(c in frame.columns for c in DATE_COLUMNS):
            prices = clean_series(frame, column, name=where)
            if high_low:
                prices, days = clean_high_low(frame, prices, where, way_out=HIGH_LOW_WAY_OUT)
                ranges = {k: days[k].tolist() for k in ("high", "low")}
        else:  # no dates: the rows are taken in file order
            prices = parse_prices(frame[column])
            if high_low:
                cols = high_low_columns(frame, where, HIGH_LOW_WAY_OUT)
                ranges = {
                    k: parse_prices(frame[c]).tolist() for k, c in zip(("high", "low"), cols, strict=True)
                }
    except DataError as exc:
        raise InputError(str(exc)) from None
    return prices.tolist(), name, ranges


def csv_series(forecaster: Forecaster, name: str, args: argparse.Namespace) -> str | None:
    """The series a CSV of `name` is answered as: `--series` when given, else the checkpoint's series of
    that name, else (one series) its only one, with a warning that it was trained on another."""
    if args.series is not None or args.normalize == "window":
        return args.series
    by_name = {n.upper(): n for n in forecaster.names}
    if name.upper() in by_name:
        return by_name[name.upper()]
    if len(forecaster.names) == 1:
        # A forecast for one stock from a model trained on another is rarely what the user meant.
        print(
            f"warning: the CSV holds {name!r} but the checkpoint was trained on {forecaster.names[0]!r}; "
            "its forecast may not fit this series (train one on it with data.ticker=..., or pass "
            "--normalize window to normalize it by its own history)",
            file=sys.stderr,
        )
    return None


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
    parser.add_argument(
        "--series", default=None, help="which of the checkpoint's series (required when it holds several)"
    )
    parser.add_argument(
        "--normalize",
        choices=("codec", "window"),
        default=None,
        help="codec: the series' training normalization (default); window: a series the network never "
        "saw, normalized by the given history (at least 4 x window values)",
    )
    parser.add_argument("--interval", type=float, default=None, help="prediction interval level, e.g. 0.9")
    parser.add_argument(
        "--quantiles", type=float, nargs="+", default=None, help="quantile levels in (0, 1): 0.05 0.5 0.95"
    )
    args = parser.parse_args(argv)
    try:
        forecaster = load_forecaster(args.checkpoint, args.device)
        ranges: dict[str, list[float]] = {}
        series = args.series
        if args.csv:
            values, name, ranges = read_csv_prices(args.csv, args.column, forecaster.needs_high_low)
            series = csv_series(forecaster, name, args)
        else:
            values = _read_values(args)
            if forecaster.needs_high_low:
                raise InputError(
                    f"{args.checkpoint}: this model reads each day's High and Low "
                    f"(data.features={forecaster.layout.features}), which plain values cannot carry; "
                    "pass --csv <file> with High and Low columns (Yahoo layout)"
                )
        result = forecaster.predict(
            np.asarray(values),
            horizon=args.horizon,
            interval=args.interval,
            quantiles=args.quantiles,
            series=series,
            normalize=args.normalize,
            **ranges,
        )
        meta = forecaster.metadata_of(result["series"])
        result.update(
            checkpoint=str(args.checkpoint),
            ticker=meta.get("ticker"),
            window=forecaster.window,
            horizon_max=forecaster.horizon,
        )
        if not all(map(math.isfinite, result["predictions"] + result.get("lower", []))):
            raise InputError(
                f"{args.checkpoint}: the forecast is not a finite number (values out of range, or an "
                "artifact with NaN weights: publish it again from a training run)"
            )
    # InputError and ArtifactError, and what an artifact that cannot answer raises (a level target with
    # a likelihood head, a file that cannot be read): one line, as the server's 4xx.
    except (ValueError, OSError) as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
