"""One network per series against one network on all of them (`data.tickers`): the default model's test
scores per series, side by side, rendered with the rows and target checks of `distribution_sections`.

    python -m reports.pooled                         # 4 bundled tickers: 4 single runs + 1 pooled
    python -m reports.pooled --doc docs/FORECAST_QUALITY.md   # also rewrite its generated table
    python -m reports.pooled --set seed=1 --workdir /tmp/pooled-seed1      # another seed
    python -m reports.pooled --from-json <dir>/pooled.json /tmp/pooled-seed1/pooled.json --doc …

Run from the repository root (`python -m` puts it on `sys.path`, so `reports.…` resolves).

With several saved runs (`--from-json`), the first gives the tables and every one a line of the seed check.

`section(trains, pooled)` returns the Markdown lines; `trains` are single runs as `reports.jobs.train_job`
returns them ({"ticker", "metrics", "seconds"}), `pooled` is `pooled_job`'s result, so the
results page can include the section beside its own training runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from reports.distribution_sections import targets, train_rows

ROOT = Path(__file__).resolve().parents[1]

TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")
BEGIN, END = "<!-- results_pooled: begin -->", "<!-- results_pooled: end -->"


def run_training(name: str, overrides: list[str], workdir: str) -> tuple[dict, float]:
    """`python train.py <overrides>` in this process, outputs under `workdir/name`; metrics and seconds."""
    import torch

    from closecast.config import compose_config
    from closecast.training.run import train

    torch.set_num_threads(1)  # a shared, busy machine (see `threads` in configs/train.yaml)
    out = Path(workdir) / name
    paths = [
        f"paths.root_dir={ROOT}",
        f"paths.log_dir={out / 'outputs'}",
        f"paths.checkpoints_dir={out / 'ckpt'}",
    ]
    quiet = ["trainer.enable_progress_bar=false", "publish=false"]
    began = time.perf_counter()
    metrics = train(compose_config("train", [*paths, *quiet, *overrides], output_dir=out))
    return metrics, time.perf_counter() - began


def single_job(ticker: str, extra: list[str], workdir: str) -> dict:
    """The default training run of one series (`python train.py data.ticker=…`)."""
    metrics, seconds = run_training(f"single_{ticker}", [f"data.ticker={ticker}", *extra], workdir)
    return {"ticker": ticker, "metrics": metrics, "seconds": seconds}


def pooled_job(tickers: list[str], extra: list[str], workdir: str) -> dict:
    """One default network on all `tickers` (`python train.py data.tickers=[…]`)."""
    metrics, seconds = run_training("pooled", [f"data.tickers=[{','.join(tickers)}]", *extra], workdir)
    return {"tickers": list(tickers), "metrics": metrics, "seconds": seconds}


def per_series(pooled: dict) -> list[dict]:
    """The pooled run's scores of each series, shaped like single runs."""
    m = pooled["metrics"]
    return [
        {"ticker": t, "metrics": {k[len(t) + 1 :]: v for k, v in m.items() if k.startswith(f"{t}/")}}
        for t in pooled["tickers"]
    ]


def section(trains: list[dict], pooled: dict) -> list[str]:
    """Markdown: single-series and pooled test scores per series, each with the targets checked."""
    pooled_rows = per_series(pooled)
    names = pooled["tickers"]
    walls = ", ".join(f"{t['ticker']} {t['seconds']:.0f} s" for t in trains)
    epochs = pooled["metrics"].get("epochs", float("nan"))
    lines = [
        "One network per series (`python train.py data.ticker=X`):",
        "",
        *train_rows(trains),
        "",
        *targets(trains),
        "",
        f"One network on {', '.join(names)} (`python train.py 'data.tickers=[{','.join(names)}]'`), "
        "each series scored on its own test part:",
        "",
        *train_rows(pooled_rows),
        "",
        *targets(pooled_rows),
        "",
        f"Wall time: single runs {walls}; pooled run {pooled['seconds']:.0f} s ({epochs:.0f} epochs).",
    ]
    return lines


def against_reference(runs: list[dict]) -> tuple[int, int, int, float]:
    """Series below their reference, significantly better, significantly worse, and the mean ratio."""
    ms = [r["metrics"] for r in runs]
    ratios = [m["test/served/vs_reference"] for m in ms]
    ts = [m["test/served/dm_t"] for m in ms]
    return (
        sum(r < 1 for r in ratios),
        sum(t < -1.96 for t in ts),
        sum(t > 1.96 for t in ts),
        sum(ratios) / len(ms),
    )


def seed_lines(saved: list[dict]) -> list[str]:
    """One line per saved comparison (e.g. per seed): how each way fares against each series' reference."""
    lines = []
    for run in saved:
        label = " ".join(run.get("overrides") or []) or "the defaults"
        parts = []
        for name, runs in (("one network per series", run["trains"]), ("pooled", per_series(run["pooled"]))):
            below, better, worse, mean = against_reference(runs)
            parts.append(
                f"{name}: below the reference on {below} of {len(runs)} (significantly better on {better}, "
                f"worse on {worse}), mean ratio {mean:.4f}"
            )
        lines.append(f"- `{label}`: " + "; ".join(parts) + ".")
    return lines


def write_between_markers(doc: Path, lines: list[str]) -> None:
    """Replace the generated block of `doc` (between the markers) with `lines`."""
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{doc} has no {BEGIN} … {END} block to replace")
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    doc.write_text(head + BEGIN + "\n" + "\n".join(lines) + "\n" + END + tail)


def main(argv: list[str] | None = None) -> int:
    """Run the single and pooled trainings (or re-render saved ones) and print the section."""
    parser = argparse.ArgumentParser(prog="python -m reports.pooled", description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", nargs="+", default=list(TICKERS))
    parser.add_argument("--jobs", type=int, default=2, help="processes in parallel (default %(default)s)")
    parser.add_argument("--set", nargs="*", default=[], help="Hydra overrides for every run")
    parser.add_argument("--workdir", default=None, help="where runs go (default: a temporary folder)")
    parser.add_argument("--from-json", type=Path, nargs="+", help="re-render from earlier pooled.json files")
    parser.add_argument("--doc", type=Path, help="Markdown file whose generated block to rewrite")
    args = parser.parse_args(argv)

    if args.from_json:
        runs = [json.loads(path.read_text()) for path in args.from_json]
    else:
        workdir = Path(args.workdir or tempfile.mkdtemp(prefix="closecast-pooled-"))
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            pooled_future = pool.submit(pooled_job, args.tickers, args.set, str(workdir))
            singles = [pool.submit(single_job, t, args.set, str(workdir)) for t in args.tickers]
            saved = {"trains": [f.result() for f in singles], "pooled": pooled_future.result()}
        saved["overrides"] = args.set
        (workdir / "pooled.json").write_text(json.dumps(saved, default=str))
        print(f"runs in {workdir}; saved {workdir / 'pooled.json'}")
        runs = [saved]
    lines = section(runs[0]["trains"], runs[0]["pooled"])
    if len(runs) > 1:
        lines += ["", "The same comparison with other settings (test CRPS ratios):", "", *seed_lines(runs)]
    print("\n".join(lines))
    if args.doc:
        write_between_markers(args.doc, lines)
        print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    from closecast.errors import exit_on_data_error

    with exit_on_data_error():
        sys.exit(main())
