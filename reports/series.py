"""Which series docs/RESULTS.md scores: the bundled sample tickers, and real daily series that are not bundled
(the `arch` package's offline index prices), each as a name and the Hydra overrides that select it."""

from __future__ import annotations

import importlib
from pathlib import Path

BUNDLED = ("AAPL", "GOOG", "IBM", "MSFT")
# Real daily prices the `arch` package (a dependency of the `train` extra) ships offline: series nothing in
# the project was tuned on. Name in the tables -> (module under arch.data, what it is).
ARCH = {"SP500": ("sp500", "S&P 500 index"), "NASDAQ": ("nasdaq", "NASDAQ Composite index")}
EXTRA = ("arch", "none")  # choices of `--extra-series`

Series = tuple[str, list[str]]  # (name, overrides); plain data, so it crosses to the worker processes


def bundled(tickers: list[str], data_dir: str | Path) -> list[Series]:
    """The bundled tickers; one that is not bundled fails here, before any run starts."""
    from closecast.data.sources import read_source

    for ticker in tickers:
        read_source("sample", ticker, data_dir=data_dir)
    return [(ticker, [f"data.ticker={ticker}"]) for ticker in tickers]


def arch_series(folder: Path) -> tuple[list[Series], list[str]]:
    """The `arch` package's index prices, written to CSV files in `folder` (a run's temporary folder); the
    series and a sentence per series naming its source."""
    series, notes = [], []
    for name, (module, title) in ARCH.items():
        try:
            frame = importlib.import_module(f"arch.data.{module}").load()
        except ImportError as err:
            raise SystemExit(
                f"--extra-series arch: cannot import arch.data.{module} ({err}); install the `train` extra "
                "(pip install -e '.[train]') or pass --extra-series none"
            ) from err
        path = folder / f"{name}.csv"  # the file's stem is the series' name in the run's metadata
        frame.to_csv(path, index_label="Date")
        series.append((name, ["data.source=csv", f"data.path={path}"]))
        notes.append(
            f"{name} = {title}, {len(frame)} trading days {frame.index[0]:%Y-%m-%d} to "
            f"{frame.index[-1]:%Y-%m-%d} (`arch.data.{module}.load()`)"
        )
    return series, notes


def extra_series(choice: str, folder: Path) -> tuple[list[Series], list[str]]:
    """The non-bundled series `--extra-series` names (none for `none`), with their source notes."""
    if choice == "arch":
        return arch_series(folder)
    return [], []


def source_section(notes: list[str]) -> list[str]:
    """A paragraph naming the series that are not in the repository, and where they come from."""
    if not notes:
        return []
    return [
        "Series not bundled with the repository, scored beside the bundled tickers: "
        + "; ".join(notes)
        + ". Real daily prices the `arch` package (installed with the `train` extra) ships offline; "
        "`python -m reports` writes each to a CSV in its temporary run folder and trains on it with "
        "`data.source=csv data.path=<file>` (`--extra-series none` leaves them out). "
        "Nothing was tuned on them.",
        "",
    ]
