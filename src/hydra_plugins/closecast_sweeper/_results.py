"""What a sweep leaves when it ends: `optimization_results.yaml` in its sweep dir and the published pick."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from closecast.hpo.export import ExportError, export_study

from ._repeats import is_repeat

log = logging.getLogger(__name__)


def state_counts(study: optuna.Study) -> dict[str, int]:
    """Trials per state, with the draws that repeated an earlier trial's parameters (never run; FAIL in the
    storage, `is_repeat`) counted as REPEATED, apart from trials that ran and failed."""
    trials = study.get_trials(deepcopy=False)
    repeated = sum(is_repeat(t) for t in trials)
    counts = {s.name: sum(t.state == s for t in trials) for s in TrialState}
    counts["FAIL"] -= repeated
    counts["REPEATED"] = repeated
    return counts


def write_results(study: optuna.Study, directions: list[str], sweep_dir: Path) -> Path | None:
    """Log and save the study's states and best trial (or Pareto front); the Pareto table's path, if any."""
    counts = state_counts(study)
    log.info("Study %s: %s", study.study_name, {k: v for k, v in counts.items() if v})
    sweep_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"name": "optuna", "study_name": study.study_name, "states": counts}
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        log.warning("no trial of study %s completed: nothing to export", study.study_name)
    elif len(directions) == 1:
        best = study.best_trial
        results.update(best_trial=best.number, best_params=best.params, best_value=best.value)
        log.info("Best trial %d: value %s, params %s", best.number, best.value, best.params)
    else:
        results["solutions"] = [
            {"trial": t.number, "params": t.params, "values": t.values} for t in study.best_trials
        ]
        log.info("Pareto front: %d trials", len(study.best_trials))
    OmegaConf.save(OmegaConf.create(results), sweep_dir / "optimization_results.yaml")
    return sweep_dir / "pareto.csv" if len(directions) > 1 else None


def publish_best(study: optuna.Study, export: Any, pareto_csv: Path | None) -> Path | None:
    """Publish the study's best trial (or Pareto pick) as `export` says; None when there is nothing to."""
    if export is None or not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    settings = (
        OmegaConf.to_container(export, resolve=True) if isinstance(export, DictConfig) else dict(export)
    )
    try:
        return export_study(
            study,
            settings.get("checkpoints_dir") or "checkpoints",
            settings.get("name"),
            pareto_csv=pareto_csv,
            selection=settings.get("selection") or "min_mae",
            weights=settings.get("weights"),
            objectives=settings.get("objectives"),
        )
    except ExportError as exc:
        # The study itself is intact; say why nothing was published and how to retry.
        log.error("export skipped: %s (retry with: python -m closecast.hpo.export …)", exc)
        return None
