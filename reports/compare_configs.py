"""Compare training configurations on validation only, averaged over the bundled tickers.

    python -m reports.compare_configs "default:" "hidden 32: model.hidden=32" "window 60: data.window=60"
    python -m reports.compare_configs "default:" "lr 3e-3: optimizer.lr=0.003" --seeds 42 0
    python -m reports.compare_configs "default:" --show-test     # only once the choice is made

Run from the repository root (`python -m` puts it on `sys.path`).

Each candidate is `name: override override …` (Hydra overrides of configs/train.yaml; none = the defaults).
Every candidate is trained on every ticker and seed, one run at a time, and scored by the network's own
validation CRPS relative to the EWMA baseline's on the same validation days (`val/raw/crps / val/ewma/crps`,
lower is better), the mean over tickers and seeds deciding. Test scores stay out of the table unless
`--show-test` asks for them, so a choice made from it never reads the test part. Finished runs are kept
in `--log` (JSON lines) and not rerun. This is how the defaults in docs/FORECAST_QUALITY.md were chosen.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")
VAL_KEYS = ("val/raw/crps", "val/ewma/crps", "val/garch/crps", "val/loss", "epochs")
TEST_KEYS = ("test/raw/crps", "test/ewma/crps", "test/garch/crps", "test/served/coverage_90", "test/mase")


def parse_candidate(text: str) -> tuple[str, list[str]]:
    """`"name: a=1 b=2"` → `("name", ["a=1", "b=2"])`."""
    name, sep, overrides = text.partition(":")
    if not sep or not name.strip():
        raise SystemExit(
            f"candidate {text!r}: write it as 'name: override override …' (overrides may be none)"
        )
    return name.strip(), overrides.split()


def run_one(overrides: list[str], ticker: str, seed: int, workdir: Path, keys: tuple[str, ...]) -> dict:
    """One training run in this process; returns the kept metrics and the wall time."""
    from closecast.config import compose_config
    from closecast.training.run import train

    out = workdir / f"{ticker}_seed{seed}_{int(time.time() * 1000)}"
    paths = [f"paths.root_dir={ROOT}", f"paths.log_dir={workdir}", f"paths.checkpoints_dir={workdir}"]
    quiet = ["trainer.enable_progress_bar=false", "~logger", "publish=false"]
    run = [f"data.ticker={ticker}", f"seed={seed}", *overrides]
    cfg = compose_config("train", [*paths, *quiet, *run], output_dir=out)
    began = time.perf_counter()
    # The end-of-run table holds test scores: kept out of sight unless they were asked for.
    with contextlib.redirect_stdout(sys.stdout if "test/raw/crps" in keys else io.StringIO()):
        metrics = train(cfg)
    return {k: metrics[k] for k in keys} | {"seconds": time.perf_counter() - began}


def ratio(run: dict, part: str, baseline: str = "ewma") -> float:
    """The network's CRPS over the baseline's on the same days of `part` (val or test)."""
    return run[f"{part}/raw/crps"] / run[f"{part}/{baseline}/crps"]


def table(rows: list[dict], names: list[str], tickers: list[str], show_test: bool) -> str:
    """Markdown: per candidate, val CRPS / EWMA per ticker (mean over seeds), the mean, and timing."""
    head = ["candidate", *tickers, "mean val CRPS / EWMA", "mean val CRPS / GARCH", "epochs", "s / run"]
    if show_test:
        head += [f"test {t}" for t in tickers] + ["mean test / EWMA", "mean test / GARCH"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        mine = [r for r in rows if r["name"] == name]
        if not mine:
            continue
        per_ticker = {t: [r for r in mine if r["ticker"] == t] for t in tickers}
        mean = statistics.fmean
        cells = [f"{mean(ratio(r, 'val') for r in per_ticker[t]):.4f}" for t in tickers]
        cells += [
            f"**{mean(ratio(r, 'val') for r in mine):.4f}**",
            f"{mean(ratio(r, 'val', 'garch') for r in mine):.4f}",
            f"{mean(r['epochs'] for r in mine):.0f}",
            f"{mean(r['seconds'] for r in mine):.1f}",
        ]
        if show_test:
            cells += [f"{mean(ratio(r, 'test') for r in per_ticker[t]):.4f}" for t in tickers]
            cells += [
                f"{mean(ratio(r, 'test') for r in mine):.4f}",
                f"{mean(ratio(r, 'test', 'garch') for r in mine):.4f}",
            ]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Train every candidate on every ticker and seed (or read it from the log) and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m reports.compare_configs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("candidates", nargs="+", help="'name: override override …'")
    parser.add_argument("--tickers", nargs="+", default=list(TICKERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42])
    parser.add_argument("--log", type=Path, default=ROOT / "outputs" / "compare" / "runs.jsonl")
    parser.add_argument("--show-test", action="store_true", help="also train for and print test scores")
    args = parser.parse_args(argv)

    candidates = [parse_candidate(c) for c in args.candidates]
    keys = VAL_KEYS + (TEST_KEYS if args.show_test else ())
    args.log.parent.mkdir(parents=True, exist_ok=True)
    done = [json.loads(line) for line in args.log.read_text().splitlines()] if args.log.exists() else []
    rows = []
    for name, overrides in candidates:
        for seed in args.seeds:
            for ticker in args.tickers:
                key = {"overrides": overrides, "ticker": ticker, "seed": seed}
                run = next((r for r in done if r.items() >= key.items() and set(keys) <= set(r)), None)
                if run is None:
                    run = key | run_one(overrides, ticker, seed, args.log.parent, keys)
                    with args.log.open("a") as f:
                        f.write(json.dumps(run) + "\n")
                    done.append(run)
                rows.append(run | {"name": name})
                print(
                    f"{name} {ticker} seed {seed}: val CRPS / EWMA {ratio(run, 'val'):.4f}", file=sys.stderr
                )
    print(table(rows, [n for n, _ in candidates], args.tickers, args.show_test))


if __name__ == "__main__":
    main()
