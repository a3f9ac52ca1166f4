"""The trial loop: hydra-optuna-sweeper's search space and launcher, plus what its loop lacks.

- Each job gets its trial number, the study's storage and its name (`hpo.trial`, `hpo.storage`,
  `hpo.study_name`), whichever keys the user set, so a callback in the job reports per-epoch values and
  raises `optuna.TrialPruned`; such a job is told PRUNED, not FAIL, and never aborts the sweep.
- `n_trials` is the study's size: a rerun runs only the missing trials (resume), and several processes
  on one storage share that budget. The sampler is seeded with `seed` + the trial's number, so a resumed
  sweep continues the search instead of drawing its first configurations again.
- Trials in flight carry heartbeats and their sweep's host and pid; the next sweep marks FAIL those whose
  sweep is gone (dead pid on this host at once, or a stale heartbeat on any host).
- A job that raises (or returns a non-finite value) is FAIL; the sweep stops only when failures exceed
  `max_failure_rate` × `n_trials`.
- The storage is opened before any job starts, so a bad URL stops the sweep with a clear error.
- A sweep that ran trials publishes the study's best (or Pareto pick) once, at its end; a complete study
  trains and publishes nothing unless `export.publish_on_complete` asks for it.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl, create_params_from_overrides
from optuna.trial import TrialState

from closecast.hpo.storage import Heartbeat, claim, fail_orphaned_trials, open_storage, redact

from ._results import publish_best, write_results

log = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def hydra_quoted(value: str) -> str:
    """`value` as a Hydra quoted string, so a URL's or name's characters (`&`, `'`, `,` …) stay literal."""
    # In Hydra's quoted strings, backslashes before a quote or at the end escape: double them.
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    escaped = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped)
    return f"'{escaped}'"


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
        make_sampler: Callable[[int], Any] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(*args)
        self.pruner = pruner
        self.heartbeat_interval = heartbeat_interval or None
        self.grace_period = grace_period or None
        self.export = export
        # seed -> sampler as configured (a partial for the grid sampler); None: unseeded, nothing to vary.
        self.make_sampler = make_sampler if seed is not None else None
        self.seed = seed
        self.grid_space: dict[str, Any] | None = None

    def _export_setting(self, key: str, default: Any = None) -> Any:
        value = (self.export or {}).get(key)
        return default if value is None else value

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
        objectives = self._export_setting("objectives")
        if objectives is not None:
            names = [objectives] if isinstance(objectives, str) else [str(o) for o in objectives]
            # Studies made before objective names were Optuna's own kept them as a user attribute.
            recorded = study.metric_names or study.user_attrs.get("objectives")
            if recorded is not None and list(recorded) != names:
                raise ValueError(
                    f"study {self.study_name!r} optimizes {list(recorded)}, not {names}; "
                    "pick another hpo.study_name for a different objective"
                )
            if study.metric_names is None:
                study.set_metric_names(names)  # shown by optuna-dashboard and study.trials_dataframe()
        return study, storage

    def _reseed(self, study: optuna.Study, offset: int) -> None:
        """Give the study a fresh sampler seeded with seed + offset (a trial number)."""
        if self.make_sampler is None:
            return
        sampler = self.make_sampler(int(self.seed) + offset)
        study.sampler = sampler(self.grid_space) if self.grid_space is not None else sampler

    def _ask(self, study: optuna.Study) -> optuna.trial.Trial:
        """A new trial whose sampling is seeded by its number: never the draws of an earlier trial."""
        expected = len(study.get_trials(deepcopy=False))  # the number the next trial gets
        self._reseed(study, expected)  # for what the sampler draws in ask (relative sampling)
        trial = study.ask()
        if trial.number != expected:  # another process took that number meanwhile
            self._reseed(study, trial.number)
        claim(trial)
        return trial

    def _job_overrides(self, trial: optuna.trial.Trial) -> tuple[str, ...]:
        """What a job needs to find its trial, from the sweeper's own settings (one source of truth)."""
        return (
            f"++hpo.trial={trial.number}",
            f"++hpo.storage={hydra_quoted(str(self.storage))}",
            f"++hpo.study_name={hydra_quoted(str(self.study_name))}",
        )

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
        self.grid_space = {name: self._to_grid_sampler_choices(d) for name, d in distributions.items()}
        self.sampler = self.sampler(self.grid_space)
        return math.prod(len(v) for v in self.grid_space.values())

    def _fail_orphans(self, study: optuna.Study) -> None:
        failed = fail_orphaned_trials(study)
        if failed:
            log.warning(
                "trials %s were left RUNNING by a sweep that is gone (killed?): marked FAIL, run again",
                failed,
            )

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
        self._fail_orphans(study)
        finished = len(study.get_trials(deepcopy=False, states=FINISHED))
        log.info(
            "Study %s in %s: %d of %d trials finished; sampler %s (%s), pruner %s",
            study.study_name,
            redact(str(self.storage)),
            finished,
            n_trials,
            type(self.sampler).__name__,
            "unseeded" if self.seed is None else f"seed {self.seed} + trial number",
            type(study.pruner).__name__,
        )
        if finished >= n_trials:
            self._complete(study, directions, finished)
            return

        launched = 0
        failures: list[tuple[int, Any]] = []
        while launched < n_trials:
            self._fail_orphans(study)
            # Running trials of other live processes count too: they share the study's budget.
            taken = len(study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)))
            batch = min(n_trials - taken, self.n_jobs, n_trials - launched)
            if batch <= 0:
                running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
                if running:
                    log.info(
                        "the last %d of n_trials=%d are running in other sweep processes", running, n_trials
                    )
                break
            trials: list[optuna.trial.Trial] = []
            try:
                overrides = []
                for _ in range(batch):
                    trials.append(self._ask(study))
                    (job,) = self._configure_trials(trials[-1:], distributions, fixed_params, fixed_overrides)
                    overrides.append((*job, *self._job_overrides(trials[-1])))
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
        self._fail_orphans(study)
        if launched:
            pareto_csv = write_results(study, directions, Path(self.config.hydra.sweep.dir))
            publish_best(study, self.export, pareto_csv)

    def _complete(self, study: optuna.Study, directions: list[str], finished: int) -> None:
        """A rerun of a complete study: nothing to train, and nothing published unless asked."""
        log.info(
            "Study %s complete (%d of n_trials=%d finished), nothing to run; raise hydra.sweeper.n_trials "
            "to grow it",
            study.study_name,
            finished,
            int(self.n_trials),
        )
        if self._export_setting("publish_on_complete", False):
            publish_best(study, self.export, None)
        elif self.export is not None:
            log.info(
                "Not published again: add hpo.export.publish_on_complete=true, or run "
                "python -m closecast.hpo.export with this command's overrides"
            )
