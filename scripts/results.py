"""Regenerate docs/RESULTS.md: the walk-forward backtest on every bundled ticker with the default config.

    python scripts/results.py                    # default target, 4 tickers, 2 processes
    python scripts/results.py --targets return level --jobs 2

For each ticker it runs the backtest (`configs/backtest.yaml`, unchanged defaults unless `--set` says
otherwise) once per target formulation, and the default training run (`configs/train.yaml`) whose test
part is the one `make train` reports. Everything lands in docs/RESULTS.md (tables) and docs/results/
(plots); the file is written by this script, never by hand.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from benchdoc import machine_line  # noqa: E402
from results_quality import section as distribution_section  # noqa: E402

DOC = ROOT / "docs" / "RESULTS.md"
TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")
QUIET = ["trainer.enable_progress_bar=false"]


def _compose(config_name: str, out: Path, overrides: list[str]):
    from closecast.config import compose_config

    paths = [
        f"paths.root_dir={ROOT}",
        f"paths.log_dir={out / 'outputs'}",
        f"paths.checkpoints_dir={out / 'checkpoints'}",
    ]
    return compose_config(config_name, [*paths, *QUIET, *overrides], output_dir=out)


def backtest_job(ticker: str, target: str, extra: list[str], workdir: str) -> dict:
    """One ticker × target backtest in this process; returns its table and timing as plain data."""
    from closecast.backtest import describe, guard_study, run_backtest, save_outputs, verdict
    from closecast.quality import backtest_verdict

    out = Path(workdir) / f"backtest_{ticker}_{target}"
    head = [] if target == "return" else ["model.likelihood=none"]  # a distribution of log returns only
    cfg = _compose("backtest", out, [f"data.ticker={ticker}", f"data.target={target}", *head, *extra])
    result = run_backtest(cfg, out)
    paths = save_outputs(result, out, f"{ticker} ({target} target)")
    return {
        "ticker": ticker,
        "target": target,
        "table": result.table.to_dict(orient="list"),
        "seconds": result.seconds,
        "verdict": verdict(result.table),
        "settings": describe(cfg),
        "png": str(paths["png"]),
        "guard": {str(z): v for z, v in guard_study(out).items()},
        "distribution": result.distribution.to_dict(orient="records"),
        "dist_verdict": backtest_verdict(result.distribution.to_dict(orient="records")),
    }


def train_job(ticker: str, extra: list[str], workdir: str) -> dict:
    """The default training run of one ticker (what `make train data.ticker=…` reports)."""
    import torch

    from closecast.training import train

    torch.set_num_threads(1)  # same reason as the backtest's `threads`: a shared, busy machine
    out = Path(workdir) / f"train_{ticker}"
    began = time.perf_counter()
    extra = [o for o in extra if not o.lstrip("+~").startswith("backtest.")]  # backtest-only keys
    metrics = train(_compose("train", out, [f"data.ticker={ticker}", "publish=false", *extra]))
    return {"ticker": ticker, "metrics": metrics, "seconds": time.perf_counter() - began}


def _model_all(bt: dict) -> tuple[float, float]:
    """Pooled model MASE and coverage of one backtest."""
    import pandas as pd

    row = pd.DataFrame(bt["table"]).query("method == 'model' and fold == 'all'").iloc[0]
    return float(row.mase), float(row.coverage)


def _fallbacks(backtests: list[dict]) -> str:
    """'N of M': folds (all targets) whose shrink fell back to 0, i.e. the naive forecast."""
    import pandas as pd

    folds = pd.concat([pd.DataFrame(bt["table"]) for bt in backtests]).query(
        "method == 'model' and fold != 'all'"
    )
    return f"{int((folds.shrink == 0).sum())} of {len(folds)}"


def bottom_line(backtests: list[dict], trains: list[dict], default_target: str) -> list[str]:
    """A few generated sentences: where the default beats naive, ties it, loses; drift; speed."""
    runs = [bt for bt in backtests if bt["target"] == default_target]
    if not runs:
        return []
    pooled = {bt["ticker"]: _model_all(bt) for bt in runs}
    wins = [t for t, (m, _) in pooled.items() if m < 1]
    ties = [t for t, (m, _) in pooled.items() if m == 1]
    losses = [f"{t} (MASE {m:.4f})" for t, (m, _) in pooled.items() if m > 1]
    drift = []
    for bt in runs:
        table = pd_frame(bt)
        mase = float(table.query("method == 'drift' and fold == 'all'").mase.iloc[0])
        if round(mase, 4) < 1:  # a gain too small to print is no gain
            drift.append(f"{bt['ticker']} ({mase:.4f})")
    covs = [c for _, c in pooled.values()]
    slowest = max(bt["seconds"] for bt in runs)
    text = [
        f"- Backtest with the defaults (`data.target={default_target}`): the model beats naive on "
        f"{', '.join(wins) or 'no ticker'}; it is exactly naive on {', '.join(ties) or 'no ticker'}"
        f"{'; it loses on ' + ', '.join(losses) if losses else ''}. {_fallbacks(runs)} folds fell back to "
        "the naive forecast: the shrink picked on the first half of validation showed no significant gain "
        "on the second half.",
        f"- The drift baseline beats naive on {', '.join(drift) or 'no ticker'} (pooled MASE): the small "
        "edge there is the trend, which the network does not exploit reliably out of sample.",
        f"- 90% interval coverage, pooled per ticker: {min(covs):.3f} to {max(covs):.3f}.",
        f"- The slowest default backtest took {slowest:.0f} s on this machine, run side by side with the "
        "others (see the last line), "
        + ("within the 10-minute budget." if slowest <= 600 else "over the 10-minute budget."),
    ]
    for tr in trains:
        m = tr["metrics"]
        if m["test/mase"] > 1:
            text.append(
                f"- Default training run on {tr['ticker']}: the guard kept shrink {m['shrink']:.2f} on "
                f"validation, and the test part lost {100 * (m['test/mase'] - 1):.2f}% to naive."
            )
    return text


def pd_frame(bt: dict):
    """One backtest's table as a DataFrame."""
    import pandas as pd

    return pd.DataFrame(bt["table"])


def _fmt(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    text = f"{x:.{digits}f}"
    # A ratio that is not exactly 1 must not print as 1: more digits until it shows (up to 7).
    while digits < 7 and x != 1 and float(text) == 1:
        digits += 1
        text = f"{x:.{digits}f}"
    return text


def render(backtests: list[dict], trains: list[dict], default_target: str, extra: list[str]) -> str:
    """The whole Markdown document."""
    import pandas as pd

    from closecast.backtest import markdown_table, verdict
    from closecast.quality import backtest_markdown

    lines = [
        "# Results: closecast against the naive forecast",
        "",
        "Generated by `python scripts/results.py` (`make results`); not edited by hand. " + machine_line(),
        "",
        "MASE is the model's MAE divided by the naive forecast's (next = last) MAE on the same test "
        "samples: below 1 beats naive, exactly 1 is naive itself. Coverage is the share of test prices "
        "inside the 90% interval (the recalibrated quantiles of the likelihood head; conformal for a point "
        "network). Nothing from a test period reaches the scaler, early "
        "stopping, the shrink or the interval of the model that is scored on it.",
        "",
    ]
    if extra:
        lines += [f"Overrides on top of the defaults: `{' '.join(extra)}`.", ""]

    lines += ["## Bottom line", ""] + bottom_line(backtests, trains, default_target) + [""]
    lines += distribution_section(backtests, trains)
    lines += ["## Summary: walk-forward backtest (pooled over folds)", ""]
    lines += [
        "| ticker | target | model MASE | drift MASE | folds model < naive | folds model = naive "
        "| coverage | wall time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for bt in backtests:
        t = pd.DataFrame(bt["table"])
        model = t[t.method == "model"]
        overall = model[model.fold == "all"].iloc[0]
        drift = t[(t.method == "drift") & (t.fold == "all")].iloc[0]
        folds = model[model.fold != "all"]
        lines.append(
            f"| {bt['ticker']} | {bt['target']} | {_fmt(overall.mase)} | {_fmt(drift.mase)} "
            f"| {int((folds.mase < 1).sum())}/{len(folds)} | {int((folds.mase == 1).sum())}/{len(folds)} "
            f"| {_fmt(overall.coverage, 3)} | {bt['seconds']:.0f} s |"
        )
    lines.append("")
    targets = sorted({bt["target"] for bt in backtests})
    if len(targets) > 1:
        lines += [
            "### Choice of the target formulation",
            "",
            f"With the guard, {_fallbacks(backtests)} backtest folds use the naive forecast itself, so after "
            "it the formulations differ mostly in how often that happens. They are compared on the "
            "network's own forecasts instead "
            "(the validation-best shrink, no guard: the `z=0.0` column below), which is what the "
            "formulation itself contributes; both views are listed.",
            "",
            "| target | unguarded: mean MASE | unguarded: worst | with the guard: mean "
            "| with the guard: worst |",
            "|---|---|---|---|---|",
        ]
        scores = {}
        for target in targets:
            runs = [bt for bt in backtests if bt["target"] == target]
            raw = [float(bt["guard"]["0.0"]) for bt in runs]
            guarded = [
                float(pd.DataFrame(bt["table"]).query("method == 'model' and fold == 'all'").mase.iloc[0])
                for bt in runs
            ]
            scores[target] = (max(raw), sum(raw) / len(raw))
            lines.append(
                f"| `{target}` | {sum(raw) / len(raw):.4f} | {max(raw):.4f} "
                f"| {sum(guarded) / len(guarded):.4f} | {max(guarded):.4f} |"
            )
        # Lowest unguarded worst case, then lowest mean; an exact tie keeps the configured default.
        best = min(scores, key=lambda k: (scores[k][0], scores[k][1], k != default_target))
        lines += [
            "",
            f"The default is `data.target={default_target}`; the lowest unguarded worst-case MASE is "
            f"`{best}`" + (" (agrees)." if best == default_target else " (disagrees)."),
            "",
        ]

    lines += [
        "### Choice of the shrink guard (`calibration.min_gain_z`)",
        "",
        "Pooled backtest MASE the same fitted folds give under each guard setting (the guard only picks "
        "the shrink on validation, so no refit is needed). 0 is no guard: the shrink with the lowest MAE "
        "on all of validation. Above 0 the shrink is picked on the first half of validation and kept "
        "only if its gain over naive on the second half is at least z Newey-West standard errors above "
        "zero (a one-sided Diebold-Mariano test).",
        "",
        "How the guard came to be this one: its first version tested the picked shrink on the same "
        "validation samples it was picked on, with an i.i.d. standard error. That overstates the evidence "
        "twice (the pick is the luckiest of 21 factors, and daily errors are autocorrelated), and it let "
        "a shrink through on AAPL's default run (test MASE 1.0022) and in one IBM backtest fold (pooled "
        "1.0002). Those test results are what prompted the change, so they are not independent evidence "
        "for it; the rule itself is the textbook one, with no setting fitted to them.",
        "",
    ]
    zs = list(backtests[0]["guard"]) if backtests else []
    lines += [
        "| ticker | target | " + " | ".join(f"z={z}" for z in zs) + " |",
        "|---|---|" + "---|" * len(zs),
    ]
    for bt in backtests:
        lines.append(
            f"| {bt['ticker']} | {bt['target']} | " + " | ".join(_fmt(bt["guard"][z]) for z in zs) + " |"
        )
    lines.append("")

    if trains:
        lines += [
            "## Default training run (`make train data.ticker=…`): its test part",
            "",
            "One fit on the first 70% of the series, validation on the next 15%, scored on the last 15%.",
            "",
            "| ticker | model MASE | drift MASE | model MAE | naive MAE | shrink | coverage | wall time |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for tr in trains:
            m = tr["metrics"]
            lines.append(
                f"| {tr['ticker']} | {_fmt(m['test/mase'])} | {_fmt(m['test/drift/mase'])} "
                f"| {_fmt(m['test/mae'])} | {_fmt(m['test/naive/mae'])} | {m['shrink']:.2f} "
                f"| {_fmt(m['test/coverage'], 3)} | {tr['seconds']:.0f} s |"
            )
        lines.append("")

    lines += [
        "## Against the target (MASE at most 1.0000, coverage within 3 points of 90%)",
        "",
        "| run | ticker | MASE | MASE target | coverage | coverage target |",
        "|---|---|---|---|---|---|",
    ]
    checks = [
        (f"backtest, {bt['target']}", bt["ticker"], *_model_all(bt))
        for bt in backtests
        if bt["target"] == default_target
    ] + [
        ("default training run", tr["ticker"], tr["metrics"]["test/mase"], tr["metrics"]["test/coverage"])
        for tr in trains
    ]
    for run, ticker, mase, coverage in checks:
        mase_ok = "met" if mase <= 1.0 else f"missed by {100 * (mase - 1):.2f}%"
        cov_ok = "met" if abs(coverage - 0.9) <= 0.03 else "missed"
        lines.append(f"| {run} | {ticker} | {_fmt(mase)} | {mase_ok} | {coverage:.3f} | {cov_ok} |")
    lines.append("")

    lines += ["## Where the model beats naive, and where it does not", ""]
    for bt in backtests:
        lines.append(f"- **{bt['ticker']}, {bt['target']} target**: {verdict(pd_frame(bt))}")
    for tr in trains:
        mase = tr["metrics"]["test/mase"]
        word = "beats" if mase < 1 else ("equals" if mase == 1 else "loses to")
        lines.append(
            f"- **{tr['ticker']}, default training run**: test MASE {_fmt(mase)}, the model {word} naive."
        )
    lines.append("")

    lines += ["## Per-fold tables", ""]
    for bt in backtests:
        lines += [
            f"### {bt['ticker']}, {bt['target']} target",
            "",
            f"Settings: {bt['settings']}. Wall time {bt['seconds']:.0f} s.",
            "",
            markdown_table(pd.DataFrame(bt["table"])),
            "",
            *(
                [backtest_markdown(bt["distribution"]), "", bt["dist_verdict"], ""]
                if bt.get("distribution")
                else []
            ),
            f"![{bt['ticker']} {bt['target']}](results/{Path(bt['png']).name})",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run everything and write docs/RESULTS.md (and the plots beside it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", nargs="+", default=list(TICKERS))
    parser.add_argument("--targets", nargs="+", default=None, help="default: the config's data.target")
    parser.add_argument("--jobs", type=int, default=2, help="processes in parallel (default %(default)s)")
    parser.add_argument("--no-train", action="store_true", help="skip the default training runs")
    parser.add_argument("--set", nargs="*", default=[], help="Hydra overrides for every run")
    parser.add_argument("--workdir", default=None, help="where runs go (default: a temporary folder)")
    parser.add_argument("--from-json", type=Path, help="re-render from an earlier run's results.json")
    parser.add_argument("--doc", type=Path, default=DOC, help="Markdown file to write (default: %(default)s)")
    args = parser.parse_args(argv)

    default_target = _compose("backtest", Path(tempfile.gettempdir()), []).data.target
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        text = render(saved["backtests"], saved["trains"], default_target, args.set) + saved.get("footer", "")
        args.doc.write_text(text)
        print(f"wrote {args.doc} from {args.from_json}")
        return 0
    targets = args.targets or [default_target]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="closecast-results-"))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        bt_futures = [
            pool.submit(backtest_job, t, target, args.set, str(workdir))
            for target in targets
            for t in args.tickers
        ]
        tr_futures = (
            [] if args.no_train else [pool.submit(train_job, t, args.set, str(workdir)) for t in args.tickers]
        )
        backtests = [f.result() for f in bt_futures]
        trains = [f.result() for f in tr_futures]
    plots = args.doc.parent / "results"
    plots.mkdir(parents=True, exist_ok=True)
    for bt in backtests:
        target_png = plots / f"{bt['ticker']}_{bt['target']}.png"
        target_png.write_bytes(Path(bt["png"]).read_bytes())
        bt["png"] = str(target_png)
    text = render(backtests, trains, default_target, args.set)
    footer = (
        f"\nTotal wall time of this report: {time.perf_counter() - began:.0f} s with {args.jobs} processes "
        f"on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.\n"
    )
    text += footer
    args.doc.write_text(text)
    saved = {"backtests": backtests, "trains": trains, "footer": footer}
    (workdir / "results.json").write_text(json.dumps(saved, default=str))
    print(text)
    print(f"wrote {args.doc} (runs in {workdir})")
    return 0


if __name__ == "__main__":
    from closecast.cli import exit_on_data_error

    with exit_on_data_error():  # e.g. a ticker not in the bundled sample: one line, exit code 2
        sys.exit(main())
