"""The trial loop: hydra-optuna-sweeper's search space and launcher, plus what its loop lacks.

- Each job gets its trial number (`hpo.trial`), so a callback in the job reports per-epoch values and
  raises `optuna.TrialPruned`; such a job is told PRUNED, not FAIL, and never aborts the sweep.
- `n_trials` is the study's size: a rerun runs only the missing trials (resume), and several processes
  on one storage share that budget. Trials in flight send heartbeats; a killed sweep's trials are
  marked FAIL by the next sweep once their heartbeat is stale.
- A job that raises (or returns a non-finite value) is FAIL; the sweep stops only when failures exceed
  `max_failure_rate` × `n_trials`.
- The storage is opened before any job starts, so a bad URL stops the sweep with a clear error.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl, create_params_from_overrides
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from closecast.study import Heartbeat, open_storage, redact
from closecast.study_export import ExportError, export_study

log = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def fail_stale_trials(study: optuna.Study) -> None:
    """Mark FAIL the RUNNING trials whose heartbeat stopped (their sweep was killed)."""
    with warnings.catch_warnings():
        # Optuna warns that heartbeats are meant for Study.optimize; our loop beats them itself.
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)


class SweepAborted(RuntimeError):
    """More trials failed than the sweep's `max_failure_rate` allows."""


class ClosecastSweeperImpl(OptunaSweeperImpl):
    """Optuna sweep loop with pruning, resume, heartbeats, failure budget and exports."""

    def __init__(
        self,
        *args: Any,
        pruner: optuna.pruners.BasePruner | None = None,
        heartbeat_interval: int | None = 30,
        grace_period: int | None = None,
        export: Any = None,
    ) -> None:
        super().__init__(*args)
        self.pruner = pruner
        self.heartbeat_interval = heartbeat_interval or None
        self.grace_period = grace_period or None
        self.export = export

    def _open_study(self, directions: list[str]) -> tuple[optuna.Study, optuna.storages.RDBStorage]:
        if not self.storage or not self.study_name:
            raise ValueError(
                "the closecast_optuna sweeper needs a storage and a study name so trials can find "
                f"their study; got storage={self.storage!r}, study_name={self.study_name!r}"
            )
        storage = open_storage(
            str(self.storage), heartbeat_interval=self.heartbeat_interval, grace_period=self.grace_period
        )
        pruner = self.pruner
        if len(directions) > 1 and pruner is not None and not isinstance(pruner, optuna.pruners.NopPruner):
            log.warning("Optuna cannot prune multi-objective studies: running every trial to the end")
            pruner = None
        study = optuna.create_study(
            study_name=self.study_name,
            storage=storage,
            sampler=self.sampler,
            pruner=pruner or optuna.pruners.NopPruner(),
            directions=directions,
            load_if_exists=True,
        )
        found = [d.name.lower() for d in study.directions]
        if found != [d.lower() for d in directions]:
            raise ValueError(
                f"study {self.study_name!r} in {redact(str(self.storage))} optimizes {found}, not "
                f"{directions}; pick another hpo.study_name for a different objective"
            )
        objectives = (self.export or {}).get("objectives")
        if objectives is not None:
            names = [objectives] if isinstance(objectives, str) else list(objectives)
            recorded = study.user_attrs.get("objectives")
            if recorded is not None and recorded != names:
                raise ValueError(
                    f"study {self.study_name!r} optimizes {recorded}, not {names}; "
                    "pick another hpo.study_name for a different objective"
                )
            study.set_user_attr("objectives", names)
        return study, storage

    def _outcome(self, ret: JobReturn, n_objectives: int) -> tuple[TrialState, list[float] | None, Any]:
        """State, values and error of one finished job."""
        if ret.status == JobStatus.FAILED:
            error = ret._return_value
            if isinstance(error, optuna.TrialPruned):
                return TrialState.PRUNED, None, error
            return TrialState.FAIL, None, error
        raw = ret._return_value
        try:
            values = [float(raw)] if n_objectives == 1 else [float(v) for v in raw]
        except (TypeError, ValueError):
            return TrialState.FAIL, None, ValueError(f"job returned {raw!r}, not {n_objectives} number(s)")
        if len(values) != n_objectives:
            return TrialState.FAIL, None, ValueError(f"job returned {len(values)} values for {n_objectives}")
        if not all(math.isfinite(v) for v in values):
            return TrialState.FAIL, None, ValueError(f"job returned non-finite values {values}")
        return TrialState.COMPLETE, values, None

    @staticmethod
    def _run_dir(ret: JobReturn) -> str | None:
        try:
            return str(ret.hydra_cfg.hydra.runtime.output_dir)  # type: ignore[union-attr]
        except Exception:
            return None

    def _grid_size(self, distributions: dict[str, Any]) -> int:
        space = {name: self._to_grid_sampler_choices(d) for name, d in distributions.items()}
        self.sampler = self.sampler(space)
        return math.prod(len(v) for v in space.values())

    def sweep(self, arguments: list[str]) -> None:
        assert self.config is not None and self.launcher is not None
        self._process_searchspace_config()
        params_conf = self._parse_sweeper_params_config() + list(arguments)
        distributions, fixed_params, fixed_overrides = create_params_from_overrides(params_conf)
        for name in fixed_params:
            distributions.pop(name, None)
        n_trials = int(self.n_trials)
        if isinstance(self.sampler, functools.partial) and self.sampler.func is optuna.samplers.GridSampler:
            n_trials = min(n_trials, self._grid_size(distributions))
        directions = self._get_directions()
        study, storage = self._open_study(directions)
        log.info(
            "Study %s in %s: %d of %d trials finished; sampler %s, pruner %s",
            study.study_name,
            redact(str(self.storage)),
            len(study.get_trials(deepcopy=False, states=FINISHED)),
            n_trials,
            type(self.sampler).__name__,
            type(study.pruner).__name__,
        )

        launched = 0
        failures: list[tuple[int, Any]] = []
        while launched < n_trials:
            fail_stale_trials(study)
            # Running trials of other live processes count too: they share the study's budget.
            taken = len(study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)))
            batch = min(n_trials - taken, self.n_jobs, n_trials - launched)
            if batch <= 0:
                break
            trials = [study.ask() for _ in range(batch)]
            try:
                overrides = [
                    (*o, f"++hpo.trial={t.number}")
                    for o, t in zip(
                        self._configure_trials(trials, distributions, fixed_params, fixed_overrides),
                        trials,
                        strict=True,
                    )
                ]
                with Heartbeat(storage, [t._trial_id for t in trials]):
                    returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            except BaseException:
                # Interrupted or broken before the jobs returned: no trial of ours may stay RUNNING.
                for t in trials:
                    try:
                        study.tell(t, state=TrialState.FAIL)
                    except Exception:
                        pass
                raise
            self.job_idx += len(returns)
            launched += len(returns)
            for trial, ret in zip(trials, returns, strict=True):
                state, values, error = self._outcome(ret, len(directions))
                run_dir = self._run_dir(ret)
                if run_dir:
                    trial.set_user_attr("run_dir", run_dir)
                    if state == TrialState.COMPLETE and (Path(run_dir) / "model.pt").exists():
                        trial.set_user_attr("artifact", str(Path(run_dir) / "model.pt"))
                try:
                    study.tell(trial, state=state, values=values)
                except optuna.exceptions.UpdateFinishedTrialError:
                    # Another sweep took this trial for dead (missed heartbeats) and already failed it.
                    log.warning("trial %d was already marked finished elsewhere; kept as is", trial.number)
                    continue
                except RuntimeError as exc:
                    # GridSampler stops the study from inside tell once the grid is exhausted.
                    if "Study.stop" not in str(exc):
                        raise
                if state == TrialState.FAIL:
                    failures.append((trial.number, error))
                    log.warning("trial %d failed (the sweep goes on): %r", trial.number, error)
                elif state == TrialState.PRUNED:
                    log.info("trial %d pruned: %s", trial.number, error)
                else:
                    log.info("trial %d: %s", trial.number, values)
            if len(failures) > self.max_failure_rate * n_trials:
                number, error = failures[-1]
                raise SweepAborted(
                    f"{len(failures)} of {launched} trials failed, more than "
                    f"hydra.sweeper.max_failure_rate={self.max_failure_rate} of n_trials={n_trials}; "
                    f"last: trial {number}: {error!r}. See the trials' run dirs, or raise the rate"
                ) from (error if isinstance(error, BaseException) else None)
        fail_stale_trials(study)
        self._report(study, directions)

    def _report(self, study: optuna.Study, directions: list[str]) -> None:
        counts = {s.name: len(study.get_trials(deepcopy=False, states=(s,))) for s in TrialState}
        log.info("Study %s: %s", study.study_name, {k: v for k, v in counts.items() if v})
        sweep_dir = Path(self.config.hydra.sweep.dir)
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
        if self.export is None or not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            return
        export = (
            OmegaConf.to_container(self.export, resolve=True)
            if isinstance(self.export, DictConfig)
            else dict(self.export)
        )
        try:
            export_study(
                study,
                export.get("checkpoints_dir") or "checkpoints",
                export.get("name"),
                pareto_csv=sweep_dir / "pareto.csv" if len(directions) > 1 else None,
                selection=export.get("selection") or "min_mae",
                weights=export.get("weights"),
                objectives=export.get("objectives"),
            )
        except ExportError as exc:
            # The study itself is intact; say why nothing was published and how to retry.
            log.error("export skipped: %s (retry with: python -m closecast.study_export …)", exc)
