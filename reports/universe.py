"""One network over the 20 S&P 500 stocks of the `skfolio` package (`python train.py experiment=universe`),
each stock scored on its own test part against its own reference baseline: the rows, the targets and a
summary (mean, median, worst, best) for docs/RESULTS.md (`python -m reports` renders it)."""

from __future__ import annotations

import statistics

from reports.distribution_sections import targets, train_rows
from reports.pooled import against_reference, per_series, run_training

SUFFIX = "/test/served/crps"


def universe_job(tickers: list[str] | None, extra: list[str], workdir: str) -> dict:
    """The universe preset (every stock, or `tickers`), its figures off: what `experiment=universe` runs."""
    chosen = [f"data.tickers=[{','.join(tickers)}]"] if tickers else []
    metrics, seconds = run_training(
        "universe", ["experiment=universe", "plots=false", *chosen, *extra], workdir
    )
    names = sorted(k[: -len(SUFFIX)] for k in metrics if k.endswith(SUFFIX) and k.count("/") == 3)
    return {"tickers": names, "metrics": metrics, "seconds": seconds, "selected": tickers}


def summary(rows: list[dict]) -> str:
    """One line: the served CRPS ratio to each stock's reference over the stocks, and the DM verdicts."""
    ratios = {r["ticker"]: r["metrics"]["test/served/vs_reference"] for r in rows}
    below, better, worse, mean = against_reference(rows)
    worst, best = max(ratios, key=ratios.get), min(ratios, key=ratios.get)
    return (
        f"Served CRPS over each stock's reference: mean {mean:.4f}, median "
        f"{statistics.median(ratios.values()):.4f}, worst {worst} ({ratios[worst]:.4f}), best {best} "
        f"({ratios[best]:.4f}); below 1 on {below} of {len(rows)}, significantly better (DM, 5%) on "
        f"{better}, significantly worse on {worse}."
    )


def section(universe: dict) -> list[str]:
    """Markdown: the universe run's summary, one row per stock and the targets checked over its stocks."""
    rows = per_series(universe)
    selected = universe.get("selected")
    command = "python train.py experiment=universe" + (
        f" 'data.tickers=[{','.join(selected)}]'" if selected else ""
    )
    epochs = universe["metrics"].get("epochs", float("nan"))
    return [
        "## The universe: one network over the skfolio stocks",
        "",
        f"`{command}`: one network over {len(rows)} stocks (adjusted closes from the `skfolio` package, read "
        "offline from the installed package), one calendar split shared by all of them, each stock "
        "normalized, calibrated, served and scored on its own test part against its own reference "
        "(the strong baseline best on its validation part).",
        "",
        summary(rows),
        "",
        *train_rows(rows),
        "",
        *targets(rows),
        "",
        f"Wall time: {universe['seconds']:.0f} s ({epochs:.0f} epochs), in its own process beside the "
        "report's other runs.",
    ]
