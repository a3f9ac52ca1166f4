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
    values: Any, checkpoint_path: str | Path = "checkpoints/best.pt", device: str | None = None
) -> tuple[float, dict[str, Any]]:
    """Next value after `values` (prices, oldest first) and the checkpoint's metadata."""
    forecaster = load_forecaster(checkpoint_path, device)
    result = forecaster.predict(values)
    meta = dict(forecaster.metadata)
    meta.update(checkpoint_path=str(checkpoint_path), device=str(forecaster.device), **result)
    return result["prediction"], meta


def _read_values(args: argparse.Namespace) -> list[float]:
    if args.values:
        tokens = args.values
    elif args.csv:
        import pandas as pd

        frame = pd.read_csv(args.csv)
        column = args.column or next((c for c in ("Adj Close", "Close") if c in frame.columns), None)
        if column is None or column not in frame.columns:
            raise InputError(f"{args.csv}: no column {args.column or 'Adj Close/Close'}; use --column")
        return frame[column].tolist()
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
    args = parser.parse_args(argv)
    try:
        values = _read_values(args)
        forecaster = load_forecaster(args.checkpoint, args.device)
        result = forecaster.predict(np.asarray(values), horizon=args.horizon, interval=args.interval)
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
