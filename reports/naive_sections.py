"""The sections of docs/RESULTS.md that set the model's point forecast against naive (`python -m reports`
renders them): the bottom line, the default training runs' test part, the MASE and coverage target, and a
verdict per run. Each section maps the report to Markdown lines."""

from __future__ import annotations

from reports.backtest_sections import fallbacks, fmt, frame, pooled_model


def bottom_line(backtests: list[dict], trains: list[dict], default_target: str) -> list[str]:
    """A few generated sentences: where the default beats naive, ties it, loses; drift; speed."""
    runs = [bt for bt in backtests if bt["target"] == default_target]
    if not runs:
        return []
    pooled = {bt["ticker"]: pooled_model(bt) for bt in runs}
    wins = [t for t, (m, _) in pooled.items() if m < 1]
    ties = [t for t, (m, _) in pooled.items() if m == 1]
    losses = [f"{t} (MASE {m:.4f})" for t, (m, _) in pooled.items() if m > 1]
    drift = []
    for bt in runs:
        mase = float(frame(bt).query("method == 'drift' and fold == 'all'").mase.iloc[0])
        if round(mase, 4) < 1:  # a gain too small to print is no gain
            drift.append(f"{bt['ticker']} ({mase:.4f})")
    covs = [c for _, c in pooled.values()]
    slowest = max(bt["seconds"] for bt in runs)
    text = [
        f"- Backtest with the defaults (`data.target={default_target}`): the model beats naive on "
        f"{', '.join(wins) or 'no ticker'}; it is exactly naive on {', '.join(ties) or 'no ticker'}"
        f"{'; it loses on ' + ', '.join(losses) if losses else ''}. {fallbacks(runs)} folds fell back to "
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


def bottom_line_section(report: dict) -> list[str]:
    """The bottom line under its heading."""
    return [
        "## Bottom line",
        "",
        *bottom_line(report["backtests"], report["trains"], report["default_target"]),
        "",
    ]


def training_section(report: dict) -> list[str]:
    """The test part of each default training run: MASE, MAE, shrink, coverage, wall time."""
    trains = report["trains"]
    if not trains:
        return []
    lines = [
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
            f"| {tr['ticker']} | {fmt(m['test/mase'])} | {fmt(m['test/drift/mase'])} "
            f"| {fmt(m['test/mae'])} | {fmt(m['test/naive/mae'])} | {m['shrink']:.2f} "
            f"| {fmt(m['test/coverage'], 3)} | {tr['seconds']:.0f} s |"
        )
    lines.append("")
    return lines


def against_target_section(report: dict) -> list[str]:
    """Each default-target backtest and training run against MASE <= 1 and coverage within 3 points."""
    lines = [
        "## Against the target (MASE at most 1.0000, coverage within 3 points of 90%)",
        "",
        "| run | ticker | MASE | MASE target | coverage | coverage target |",
        "|---|---|---|---|---|---|",
    ]
    checks = [
        (f"backtest, {bt['target']}", bt["ticker"], *pooled_model(bt))
        for bt in report["backtests"]
        if bt["target"] == report["default_target"]
    ] + [
        ("default training run", tr["ticker"], tr["metrics"]["test/mase"], tr["metrics"]["test/coverage"])
        for tr in report["trains"]
    ]
    for run, ticker, mase, coverage in checks:
        mase_ok = "met" if mase <= 1.0 else f"missed by {100 * (mase - 1):.2f}%"
        cov_ok = "met" if abs(coverage - 0.9) <= 0.03 else "missed"
        lines.append(f"| {run} | {ticker} | {fmt(mase)} | {mase_ok} | {coverage:.3f} | {cov_ok} |")
    lines.append("")
    return lines


def verdicts_section(report: dict) -> list[str]:
    """One sentence per backtest and training run: beats, equals or loses to naive."""
    from closecast.evaluation.report import backtest_point_verdict

    lines = ["## Where the model beats naive, and where it does not", ""]
    for bt in report["backtests"]:
        lines.append(f"- **{bt['ticker']}, {bt['target']} target**: {backtest_point_verdict(frame(bt))}")
    for tr in report["trains"]:
        mase = tr["metrics"]["test/mase"]
        word = "beats" if mase < 1 else ("equals" if mase == 1 else "loses to")
        lines.append(
            f"- **{tr['ticker']}, default training run**: test MASE {fmt(mase)}, the model {word} naive."
        )
    lines.append("")
    return lines
