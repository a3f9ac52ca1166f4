"""Publish a study's best trial (or Pareto pick) as a serving artifact, and write the Pareto table.

The sweep calls `export_study` when it ends; `python -m closecast.hpo.export [overrides]` does the same
from an existing study without training anything, e.g. after changing `hpo.export.selection`:

    python -m closecast.hpo.export hparams_search=optuna_pareto hpo.export.selection=min_rmse"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

try:  # first: without the training extra, say so before loading anything heavy
    import optuna
    from optuna.trial import FrozenTrial, TrialState
except ModuleNotFoundError as exc:  # the base install serves models; searching needs the training extra
    print(
        f"error: closecast.hpo.export needs the training extra ({exc.name} is not installed): "
        "pip install 'closecast[train]', in a checkout",
        file=sys.stderr,
    )
    raise SystemExit(2) from exc

from closecast.artifacts.publish import atomic_write, save_artifact  # noqa: E402
from closecast.artifacts.schema import load_artifact  # noqa: E402

log = logging.getLogger(__name__)


class ExportError(RuntimeError):
    """A study that has nothing exportable, or an export setting that does not fit it."""


def objective_names(study: optuna.Study, names: Any = None) -> list[str]:
    """Names of the study's objectives: given, set on the study by the sweep, or value0…"""
    if names is None:
        # Studies made before the sweep used Optuna's metric names kept them as a user attribute.
        names = study.metric_names or study.user_attrs.get("objectives")
    if isinstance(names, str):
        names = [names]
    names = [str(n) for n in names] if names else [f"value{i}" for i in range(len(study.directions))]
    if len(names) != len(study.directions):
        raise ExportError(
            f"study {study.study_name!r} has {len(study.directions)} objectives but names {names} were given"
        )
    return names


def select_pareto(
    trials: Sequence[FrozenTrial],
    names: Sequence[str],
    selection: str,
    weights: Mapping[str, float] | None = None,
) -> FrozenTrial:
    """One trial of the Pareto front: the lowest value of one objective (`min_<name>`, matched on the
    names' last part: `min_mae`, `min_rmse`, `min_mape`, `min_mase`, ...), or the lowest weighted sum of
    scaled values.

    `weighted` scales every objective to [0, 1] over the front first, so price units and percents mix.
    """
    if not trials:
        raise ExportError("the Pareto front is empty: no trial of the study completed")
    short = [n.rsplit("/", 1)[-1] for n in names]
    if selection != "weighted" and not selection.startswith("min_"):
        raise ExportError(
            f"selection {selection!r} is not one of {[f'min_{k}' for k in short] + ['weighted']}"
        )
    if selection.startswith("min_"):
        key = selection[len("min_") :]
        if key not in short:
            raise ExportError(
                f"selection {selection!r} needs an objective named {key!r}; objectives: {names}"
            )
        i = short.index(key)
        return min(trials, key=lambda t: (t.values[i], t.number))
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(short) - set(names))
    if unknown or not weights:
        raise ExportError(
            f"selection 'weighted' needs hpo.export.weights over the objectives {short}; got {weights}"
        )
    w = [float(weights.get(s, weights.get(n, 0.0))) for s, n in zip(short, names, strict=True)]
    lows = [min(t.values[i] for t in trials) for i in range(len(names))]
    highs = [max(t.values[i] for t in trials) for i in range(len(names))]

    def score(t: FrozenTrial) -> float:
        parts = [
            wi * ((v - lo) / (hi - lo) if hi > lo else 0.0)
            for wi, v, lo, hi in zip(w, t.values, lows, highs, strict=True)
        ]
        return math.fsum(parts)

    return min(trials, key=lambda t: (score(t), t.number))


def write_pareto_csv(
    path: Path, trials: Sequence[FrozenTrial], names: Sequence[str], picked: FrozenTrial | None
) -> Path:
    """One row per Pareto trial: number, objective values, params, artifact path, whether it was picked."""
    params = sorted({p for t in trials for p in t.params})
    header = ["trial", *names, *params, "artifact", "selected"]

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(header)
            for t in sorted(trials, key=lambda t: t.number):
                out.writerow(
                    [
                        t.number,
                        *t.values,
                        *(t.params.get(p, "") for p in params),
                        t.user_attrs.get("artifact", ""),
                        int(picked is not None and t.number == picked.number),
                    ]
                )

    atomic_write(path, write)
    return path


def publish_trial(
    study: optuna.Study, trial: FrozenTrial, names: Sequence[str], target: Path, selection: str | None = None
) -> Path:
    """Copy a trial's artifact to `target`, recording the study, trial number, values and params."""
    source = trial.user_attrs.get("artifact")
    if not source:
        raise ExportError(f"trial {trial.number} of study {study.study_name!r} recorded no artifact path")
    if not Path(source).exists():
        raise ExportError(
            f"trial {trial.number}'s artifact {source} is not on this machine; run the export where "
            f"that trial ran (host {trial.user_attrs.get('host', 'unknown')}): "
            "python -m closecast.hpo.export"
        )
    artifact = load_artifact(source)
    artifact["study"] = {
        "name": study.study_name,
        "trial": trial.number,
        "values": [float(v) for v in trial.values],
        "objectives": list(names),
        "params": {
            k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in trial.params.items()
        },
        "selection": selection,
    }
    return save_artifact(artifact, target)


def export_study(
    study: optuna.Study,
    checkpoints_dir: str | Path,
    name: str | None = None,
    pareto_csv: str | Path | None = None,
    selection: str = "min_mae",
    weights: Mapping[str, float] | None = None,
    objectives: Any = None,
) -> Path:
    """Publish the best trial (one objective) or the Pareto pick (several); write `pareto_csv` if given."""
    names = objective_names(study, objectives)
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        raise ExportError(
            f"study {study.study_name!r} has no completed trial to export "
            f"({len(study.trials)} trials: pruned, failed or still running)"
        )
    if len(names) == 1:
        best = study.best_trial
        target = Path(checkpoints_dir) / (name or "best.pt")
        path = publish_trial(study, best, names, target)
        log.info(
            "published trial %d (best %s=%.6g of %d complete trials) to %s",
            best.number,
            names[0],
            best.value,
            len(done),
            path,
        )
        return path
    front = study.best_trials
    picked = select_pareto(front, names, selection, weights)
    if pareto_csv:
        write_pareto_csv(Path(pareto_csv), front, names, picked)
        log.info("Pareto front of %d trials written to %s", len(front), pareto_csv)
    target = Path(checkpoints_dir) / (name or "best_pareto_lstm.pt")
    path = publish_trial(study, picked, names, target, selection)
    values = ", ".join(f"{n}={v:.6g}" for n, v in zip(names, picked.values, strict=True))
    log.info(
        "published trial %d (hpo.export.selection=%s on a Pareto front of %d: %s) to %s",
        picked.number,
        selection,
        len(front),
        values,
        path,
    )
    return path


USAGE_EPILOG = """\
overrides are those of the sweep that made the study (Hydra syntax, key=value), e.g.:
  hparams_search=optuna|optuna_pareto   which search's settings (default: optuna)
  hpo.storage=URL                       the study's database (or hydra.sweeper.storage=URL)
  hpo.study_name=NAME                   the study (or hydra.sweeper.study_name=NAME)
  hpo.export.selection=min_mae|min_rmse|min_mape|min_<objective>|weighted   the Pareto pick
  hpo.export.checkpoints_dir=DIR hpo.export.name=FILE       where the pick is published

example:
  python -m closecast.hpo.export hparams_search=optuna_pareto hpo.export.selection=min_rmse
"""


# The sweeper's own keys name the same study as hpo.* (the sweep passes them on to its trials likewise).
SWEEPER_KEYS = {"hydra.sweeper.storage=": "hpo.storage=", "hydra.sweeper.study_name=": "hpo.study_name="}


def parse_overrides(argv: Sequence[str]) -> list[str]:
    """The Hydra overrides of the command line (`--help` prints usage and exits)."""
    parser = argparse.ArgumentParser(
        prog="python -m closecast.hpo.export",
        description="Publish the best trial (or Pareto pick) of an existing Optuna study, without training.",
        epilog=USAGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="Hydra overrides (see below)")
    overrides = list(parser.parse_args(argv).overrides)
    for i, override in enumerate(overrides):
        for key, same in SWEEPER_KEYS.items():
            if override.startswith(key):
                overrides[i] = same + override[len(key) :]
    if not any(o.startswith("hparams_search=") for o in overrides):
        overrides.insert(0, "hparams_search=optuna")
    return overrides


def main(argv: Sequence[str] | None = None) -> int:
    """Export from an existing study, configured by the same Hydra overrides as the sweep."""
    import hydra_plugins.closecast_sweeper.config  # noqa: F401  (registers hydra/sweeper=closecast_optuna)
    from closecast.config import ConfigsNotFound, compose_config
    from closecast.hpo.storage import StorageError, open_storage, redact

    overrides = parse_overrides(sys.argv[1:] if argv is None else argv)
    try:
        cfg = compose_config("train", overrides)
    except ConfigsNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    hpo = cfg.hpo
    try:
        storage = open_storage(hpo.storage)
    except StorageError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        study = optuna.load_study(study_name=hpo.study_name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        print(
            f"study {hpo.study_name!r} is not in {redact(hpo.storage)}; studies there: {names}; "
            "pass the sweep's hpo.study_name=…",
            file=sys.stderr,
        )
        return 2
    export = hpo.export
    pareto_csv = Path(cfg.paths.log_dir) / str(cfg.task_name) / "pareto.csv"
    try:
        path = export_study(
            study,
            export.checkpoints_dir,
            export.get("name"),
            pareto_csv=pareto_csv if len(study.directions) > 1 else None,
            selection=export.get("selection") or "min_mae",
            weights=export.get("weights"),
            objectives=cfg.get("optimized_metric"),
        )
    except ExportError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    print(f"published {path}" + (f"\nPareto table {pareto_csv}" if len(study.directions) > 1 else ""))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    raise SystemExit(main())
