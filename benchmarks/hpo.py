"""Benchmark: the same Optuna sweep with and without the pruner.

For each seed, runs `python train.py -m hparams_search=optuna` twice on fresh SQLite studies, once with
the configured pruner and once with `hpo.pruner=null`, and compares the total epochs trained (one
reported validation value per epoch) and the best validation loss; the medians over seeds are the
result. Targets: epochs ratio ≤ 0.6, best validation loss within 5%.

    python -m benchmarks hpo                       # 20 trials per arm, seeds 42 1 2, prints the figures
    python -m benchmarks hpo --json out.json --update-docs
    python -m benchmarks hpo --tiny                # a smoke run (the test uses it): seconds per sweep

Run from the repository root (`python -m` puts it on `sys.path`, so `benchmarks.…` resolves).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from benchmarks.document import machine, machine_line, update_section

ROOT = Path(__file__).resolve().parents[1]

EPOCHS_TARGET = 0.6
LOSS_TOLERANCE = 0.05

# A small network on a short series, so 2 × 20 trials fit in minutes on two CPU cores.
SETTINGS = [
    "data.ticker=AAPL",
    "data.start=2009-01-01",
    "trainer.accelerator=cpu",
    "hydra.sweeper.params=null",
    "data.window=choice(10,20,30)",
    "model.hidden=choice(8,16,24)",
    "model.layers=choice(1,2)",
    "model.dropout=interval(0.0,0.3)",
    "optimizer.lr=tag(log,interval(0.0001,0.03))",
    "data.batch_size=choice(32,64)",
]


# --tiny: two 1-epoch trials on the last years of the series, no figures, no refitted baselines: checks the
# benchmark runs end to end, measures nothing.
TINY = {"trials": 2, "epochs": 1, "seeds": [7]}
TINY_SETTINGS = ["data.start=2011-01-01", "plots=false", "baselines.refit_every=0"]


def run_arm(
    name: str, pruned: bool, trials: int, epochs: int, workdir: Path, seed: int, extra: list[str]
) -> dict:
    """One sweep; totals read back from its study."""
    url = f"sqlite:///{workdir / name / 'optuna.db'}"
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        "hparams_search=optuna",
        f"paths.root_dir={ROOT}",
        f"paths.log_dir={workdir / name}",
        f"paths.checkpoints_dir={workdir / name / 'checkpoints'}",
        f"hpo.storage={url}",
        f"hydra.sweeper.n_trials={trials}",
        f"trainer.max_epochs={epochs}",
        f"seed={seed}",
        *SETTINGS,
        *extra,
        *([] if pruned else ["hpo.pruner=null"]),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{name} sweep failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    study = optuna.load_study(study_name="closecast_lstm", storage=url)
    states = {s.name: sum(t.state == s for t in study.trials) for s in TrialState}
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    return {
        "trials": len(study.trials),
        "states": {k: v for k, v in states.items() if v},
        "epochs": sum(len(t.intermediate_values) for t in study.trials),
        "best_val_loss": min(t.value for t in done) if done else None,
        "seconds": round(seconds, 1),
    }


def markdown(report: dict) -> str:
    """The docs section: settings, both arms per seed, median ratios against the targets."""
    rows = [
        "| seed | arm | complete / pruned / failed | epochs trained | best val loss | wall s |",
        "|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        for label, arm in (("pruner", run["pruned"]), ("no pruner", run["unpruned"])):
            s = arm["states"]
            counts = " / ".join(str(s.get(k, 0)) for k in ("COMPLETE", "PRUNED", "FAIL"))
            rows.append(
                f"| {run['seed']} | {label} | {counts} | {arm['epochs']} "
                f"| {arm['best_val_loss']:.5f} | {arm['seconds']} |"
            )
    ratios = ", ".join(
        f"seed {r['seed']}: {r['epochs_ratio']:.2f} / {r['loss_ratio']:.3f}" for r in report["runs"]
    )
    verdict = "meet" if report["meets_targets"] else "miss"
    return "\n".join(
        [
            "## Hyperparameter search: pruning",
            "",
            f"`python -m benchmarks hpo --trials {report['trials']} --epochs {report['epochs']} "
            f"--seeds {' '.join(str(r['seed']) for r in report['runs'])}`: for each seed, the same seeded "
            f"{report['trials']}-trial TPE sweep (`hparams_search=optuna`) with its configured pruner "
            "(`hparams_search/pruner=hyperband`: min 1 epoch, reduction factor 3) and with "
            "`hpo.pruner=null`, "
            f"side by side. Settings: `{' '.join(SETTINGS)}`, max {report['epochs']} epochs, "
            "early stopping patience 8.",
            "",
            *rows,
            "",
            f"Median epochs ratio (pruner / none): **{report['epochs_ratio']:.2f}** "
            f"(target ≤ {EPOCHS_TARGET}); median best-validation-loss ratio: "
            f"**{report['loss_ratio']:.3f}** (target ≤ {1 + LOSS_TOLERANCE}); "
            f"the medians {verdict} both targets. Per seed (epochs / loss): {ratios}. "
            f"Median wall time ratio {report['wall_ratio']:.2f}.",
            "",
            machine_line(report["machine"]),
        ]
    )


def main(argv: list[str]) -> int:
    """Run both arms for every seed, print the figures, optionally write JSON and the docs section."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks hpo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--trials", type=int, default=20, help="trials per arm")
    parser.add_argument("--epochs", type=int, default=15, help="max epochs per trial")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[42, 1, 2], help="one pair of sweeps per seed"
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--update-docs", action="store_true", help="rewrite the hpo section of docs/BENCHMARKS.md"
    )
    parser.add_argument("--workdir", type=Path, help="keep the sweeps here (default: a temporary folder)")
    parser.add_argument("--tiny", action="store_true", help="a smoke run that measures nothing (for tests)")
    args = parser.parse_args(argv)
    extra = TINY_SETTINGS if args.tiny else []
    if args.tiny:
        if args.update_docs:
            parser.error("--tiny measures nothing; it cannot --update-docs")
        args.trials, args.epochs, args.seeds = TINY["trials"], TINY["epochs"], TINY["seeds"]

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_hpo_"))
    workdir.mkdir(parents=True, exist_ok=True)
    runs = []
    try:
        for seed in args.seeds:
            arms = {}
            for name, pruned in (("pruned", True), ("unpruned", False)):
                arms[name] = run_arm(f"{name}_{seed}", pruned, args.trials, args.epochs, workdir, seed, extra)
                print(f"seed {seed} {name}: {arms[name]}", flush=True)
            p, u = arms["pruned"], arms["unpruned"]
            loss_p, loss_u = p["best_val_loss"], u["best_val_loss"]
            runs.append(
                {
                    "seed": seed,
                    **arms,
                    "epochs_ratio": p["epochs"] / u["epochs"],
                    "loss_ratio": loss_p / loss_u if loss_p and loss_u else float("nan"),
                    "wall_ratio": p["seconds"] / u["seconds"],
                }
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    def total(arm: str) -> dict:
        states: dict[str, int] = {}
        for r in runs:
            for k, v in r[arm]["states"].items():
                states[k] = states.get(k, 0) + v
        return {
            "trials": sum(r[arm]["trials"] for r in runs),
            "epochs": sum(r[arm]["epochs"] for r in runs),
            "states": states,
        }

    report = {
        "trials": args.trials,
        "epochs": args.epochs,
        "runs": runs,
        "pruned": total("pruned"),
        "unpruned": total("unpruned"),
        "epochs_ratio": statistics.median(r["epochs_ratio"] for r in runs),
        "loss_ratio": statistics.median(r["loss_ratio"] for r in runs),
        "wall_ratio": statistics.median(r["wall_ratio"] for r in runs),
        "machine": machine(),
    }
    report["meets_targets"] = bool(
        report["epochs_ratio"] <= EPOCHS_TARGET and report["loss_ratio"] <= 1 + LOSS_TOLERANCE
    )
    for r in runs:
        print(
            f"seed {r['seed']}: epochs {r['pruned']['epochs']} with pruner vs {r['unpruned']['epochs']} "
            f"without (ratio {r['epochs_ratio']:.2f}); best val loss {r['pruned']['best_val_loss']} vs "
            f"{r['unpruned']['best_val_loss']} (ratio {r['loss_ratio']:.3f}); "
            f"wall ratio {r['wall_ratio']:.2f}"
        )
    print(
        f"median epochs ratio {report['epochs_ratio']:.2f} (target <= {EPOCHS_TARGET}), "
        f"median best val loss ratio {report['loss_ratio']:.3f} (target <= {1 + LOSS_TOLERANCE}), "
        f"median wall ratio {report['wall_ratio']:.2f}"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.update_docs:
        print(f"updated {update_section('hpo', markdown(report))}")
    return 0
