"""The runs behind docs/RESULTS.md (`python -m reports` starts them): one walk-forward backtest per series
and target, and one default training run per series, each in a worker process, returning plain data."""

from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from reports.series import Series

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["trainer.enable_progress_bar=false"]


def compose(config_name: str, out: Path, overrides: list[str]):
    """A config from `configs/` whose outputs all go under `out`."""
    from closecast.config import compose_config

    paths = [
        f"paths.root_dir={ROOT}",
        f"paths.log_dir={out / 'outputs'}",
        f"paths.checkpoints_dir={out / 'checkpoints'}",
    ]
    return compose_config(config_name, [*paths, *QUIET, *overrides], output_dir=out)


def backtest_job(name: str, series: list[str], target: str, extra: list[str], workdir: str) -> dict:
    """One series × target backtest in this process; returns its table and timing as plain data."""
    from closecast.evaluation.report import backtest_point_verdict, backtest_settings, backtest_verdict
    from closecast.training.backtest import guard_study, run_backtest, save_outputs

    out = Path(workdir) / f"backtest_{name}_{target}"
    head = [] if target == "return" else ["model.likelihood=none"]  # a distribution of log returns only
    cfg = compose("backtest", out, [*series, f"data.target={target}", *head, *extra])
    result = run_backtest(cfg, out)
    paths = save_outputs(result, out, f"{name} ({target} target)")
    return {
        "ticker": name,
        "target": target,
        "table": result.table.to_dict(orient="list"),
        "seconds": result.seconds,
        "verdict": backtest_point_verdict(result.table),
        "settings": backtest_settings(cfg),
        "png": str(paths["png"]),
        "guard": {str(z): v for z, v in guard_study(out).items()},
        "distribution": result.distribution.to_dict(orient="records"),
        "dist_verdict": backtest_verdict(result.distribution.to_dict(orient="records"), result.dm_t),
        "dm_t": result.dm_t,
    }


def training_overrides(overrides: list[str]) -> list[str]:
    """`overrides` without the backtest-only keys, which the training config does not have."""
    return [o for o in overrides if not o.lstrip("+~").startswith("backtest.")]


def train_job(name: str, series: list[str], extra: list[str], workdir: str) -> dict:
    """The default training run of one series (what `make train data.ticker=…` reports)."""
    import torch

    from closecast.training.run import train

    torch.set_num_threads(1)  # same reason as the backtest's `threads`: a shared, busy machine
    out = Path(workdir) / f"train_{name}"
    began = time.perf_counter()
    extra = training_overrides(extra)
    metrics = train(compose("train", out, [*series, "publish=false", *extra]))
    return {"ticker": name, "metrics": metrics, "seconds": time.perf_counter() - began}


def run_all(
    series: list[Series], targets: list[str], extra: list[str], workdir: Path, jobs: int, with_train: bool
) -> tuple[list[dict], list[dict]]:
    """Every backtest (targets outer, series inner) and training run, `jobs` at a time, in that order."""
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        bt_futures = [
            pool.submit(backtest_job, name, overrides, target, extra, str(workdir))
            for target in targets
            for name, overrides in series
        ]
        tr_futures = (
            [pool.submit(train_job, name, overrides, extra, str(workdir)) for name, overrides in series]
            if with_train
            else []
        )
        return [f.result() for f in bt_futures], [f.result() for f in tr_futures]
