"""The sweep: Optuna's `Study.optimize` runs the trials, each one a job of Hydra's launcher.

- Each job gets its trial number, the study's storage and its name (`hpo.trial`, `hpo.storage`,
  `hpo.study_name`), whichever keys the user set, so a callback in the job reports per-epoch values and
  raises `optuna.TrialPruned`; such a trial is PRUNED, not FAIL, and never aborts the sweep.
- `n_trials` is the study's size: Optuna's `MaxTrialsCallback` over COMPLETE and PRUNED trials stops the
  sweep, so a rerun runs only the missing trials (resume) and several processes on one storage share it.
  The sampler is seeded with `seed` + the trial's number (`TrialSeededSampler`), so a resumed sweep
  continues the search instead of drawing its first configurations again.
- Trials in flight carry Optuna's heartbeats and their sweep's host and pid; the next sweep marks FAIL
  those whose sweep is gone (dead pid on this host at once, a stale heartbeat on any host).
- No parameter set runs twice: a trial that draws an earlier one's is refused and drawn again (`_repeats`).
- A job that raises (or returns a non-finite value) is FAIL; the sweep stops only when failures exceed
  `max_failure_rate` × `n_trials`. An interrupted trial is FAIL, never left RUNNING.
- The storage is opened before any job starts, so a bad URL stops the sweep with a clear error.
- A sweep that ran trials publishes the study's best (or Pareto pick) once, at its end; a complete study
  trains and publishes nothing unless `export.publish_on_complete` asks for it.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
from enum import Enum
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate

# The plugin's translation of Hydra's sweep syntax (choice, range, interval, tag(log, …)) into Optuna
# distributions: it defines what `hydra.sweeper.params` means for every user of the plugin, and the plugin
# exposes it nowhere else (no public module), so it is imported from there rather than written twice.
from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl, create_params_from_overrides
from omegaconf import DictConfig, OmegaConf
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from closecast.hpo.progress import TrialProgress
from closecast.hpo.sampling import TrialSeededSampler
from closecast.hpo.storage import claim, fail_orphaned_trials, open_storage, redact

from ._ddp import started_for_trial, trial_environment
from ._failures import FailureBudget, TrialFailed
from ._repeats import RepeatedParams, Repeats
from ._results import publish_best, write_results
from ._study import open_study

log = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# Hydra's own launcher runs jobs in this process (it changes directory and Hydra's globals): one at a time.
IN_PROCESS_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def hydra_quoted(value: str) -> str:
    """`value` as a Hydra quoted string, so a URL's or name's characters (`&`, `'`, `,` …) stay literal."""
    # In Hydra's quoted strings, backslashes before a quote or at the end escape: double them.
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    escaped = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped)
    return f"'{escaped}'"


def suggest(trial: optuna.Trial, name: str, distribution: optuna.distributions.BaseDistribution) -> Any:
    """Draw `name` from `distribution` through the trial's public suggest API."""
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, optuna.distributions.IntDistribution):
        d = distribution
        return trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
    d = distribution
    return trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)


class ClosecastSweeperImpl:
    """Optuna sweep loop with pruning, resume, heartbeats, failure budget and exports."""

    def __init__(
        self,
        sampler: Any,
        direction: Any,
        storage: Any | None,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        custom_search_space: str | None,
        params: DictConfig | None,
        pruner: optuna.pruners.BasePruner | None = None,
        heartbeat_interval: int | None = 30,
        grace_period: int | None = None,
        export: Any = None,
        pruner_spec: Any = None,
    ) -> None:
        if not 0.0 <= float(max_failure_rate) <= 1.0:
            raise ValueError(f"hydra.sweeper.max_failure_rate={max_failure_rate} must be within [0, 1]")
        self.sampler_config = sampler  # seed -> sampler: made for each trial (see TrialSeededSampler)
        self.seed = sampler.get("seed") if isinstance(sampler, DictConfig) else None
        listed = [direction] if isinstance(direction, (str, Enum)) else list(direction)
        self.directions = [d.name if isinstance(d, Enum) else str(d) for d in listed]
        self.storage, self.study_name = storage, study_name
        self.n_trials, self.n_jobs, self.max_failure_rate = int(n_trials), int(n_jobs), max_failure_rate
        # custom_search_space: a callable (config, trial) that suggests more parameters for each trial.
        self.extend = (
            instantiate({"_target_": custom_search_space, "_partial_": True}) if custom_search_space else None
        )
        self.params = params
        self.pruner, self.pruner_spec = pruner, pruner_spec  # the pruner and the config it was made from
        self.heartbeat_interval = heartbeat_interval or None
        self.grace_period = grace_period or None
        self.export = export
        self.errors: dict[int, BaseException] = {}
        self.repeats = Repeats()
        self._lock = threading.Lock()
        self.job_idx = 0
        self.launched = 0

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.in_process = OmegaConf.select(config, "hydra.launcher._target_") == IN_PROCESS_LAUNCHER
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )

    def _make_sampler(self, space: dict[str, Any], seed: int | None = None) -> optuna.samplers.BaseSampler:
        """The configured sampler (seeded with `seed` when given); a grid sampler gets the grid of `space`."""
        extra = {} if seed is None else {"seed": seed}
        made = instantiate(
            self.sampler_config,
            **extra,
            _execution_whitelist_=("hydra_plugins.hydra_optuna_sweeper.*", "optuna.samplers.*"),
        )
        if isinstance(made, functools.partial):  # the grid sampler: its grid is the search space
            made = made(space)
        return made

    def _grid(self, distributions: dict[str, Any]) -> dict[str, Any] | None:
        if self.sampler_config.get("_target_") != "optuna.samplers.GridSampler":
            return None
        # The plugin's static helper is what its grid sampler always used: one meaning of a grid.
        return {name: OptunaSweeperImpl._to_grid_sampler_choices(d) for name, d in distributions.items()}

    def _job(self, trial: optuna.Trial, distributions: dict[str, Any], fixed: dict[str, Any]) -> list[str]:
        """The Hydra overrides of the job that runs `trial`."""
        params = {name: suggest(trial, name, d) for name, d in distributions.items()}
        for name, value in fixed.items():
            trial.set_user_attr(name, value)
        if self.extend is not None:
            self.extend(self.config, trial)
            params = dict(trial.params)
        overlap = sorted(set(trial.params) & set(fixed))
        if overlap:
            raise ValueError(f"hydra.sweeper.params {overlap} are both fixed and searched; keep one")
        return self._overrides(trial.number, params, fixed)

    def _overrides(self, number: int, params: dict[str, Any], fixed: dict[str, Any]) -> list[str]:
        return [
            *(f"{name}={value}" for name, value in {**params, **fixed}.items()),
            f"++hpo.trial={number}",
            f"++hpo.storage={hydra_quoted(str(self.storage))}",
            f"++hpo.study_name={hydra_quoted(str(self.study_name))}",
        ]

    def _run_rank(self, number: int, sweep_dir: str, fixed: dict[str, Any], deletes: list[str]) -> None:
        """As a DDP rank > 0 of trial `number`: run its job here too; rank 0 tells the study."""
        storage = open_storage(str(self.storage))
        frozen = optuna.load_study(study_name=str(self.study_name), storage=storage).trials[number]
        overrides = [*self._overrides(number, frozen.params, fixed), *deletes]
        self.launcher.launch([[*overrides, f"hydra.sweep.dir={hydra_quoted(sweep_dir)}"]], initial_job_idx=0)

    def _objective(self, trial: optuna.Trial, space: tuple[dict, dict, list[str]]) -> Any:
        """Run one trial as a job; its value(s), or the job's error raised (`TrialPruned`: PRUNED)."""
        distributions, fixed, deletes = space
        claim(trial)
        overrides = [*self._job(trial, distributions, fixed), *deletes]
        self.repeats.check(trial)  # a parameter set an earlier trial holds is not run again
        with self._lock:
            idx, self.job_idx = self.job_idx, self.job_idx + 1
            self.launched += 1
        if self.in_process:
            with trial_environment(trial.number, str(self.config.hydra.sweep.dir)):
                (ret,) = self.launcher.launch([overrides], initial_job_idx=idx)
        else:
            (ret,) = self.launcher.launch([overrides], initial_job_idx=idx)
        run_dir = ret.hydra_cfg.hydra.runtime.output_dir if ret.hydra_cfg is not None else None
        if run_dir:
            trial.set_user_attr("run_dir", str(run_dir))
        if ret.status == JobStatus.FAILED:
            # JobReturn.return_value would raise this too, but first prints "Error executing job" to
            # stderr, wrong for a pruned trial; the job's own traceback is already printed by Hydra.
            error = ret._return_value
            if isinstance(error, optuna.TrialPruned):
                raise error
            self.errors[trial.number] = error
            raise TrialFailed(f"trial {trial.number}'s job failed: {error!r}") from error
        if isinstance(ret.return_value, optuna.TrialPruned):  # train.py returns it: no failure in its log
            raise ret.return_value
        if run_dir and (Path(run_dir) / "model.pt").exists():
            trial.set_user_attr("artifact", str(Path(run_dir) / "model.pt"))
        return ret.return_value

    def _fail_orphans(self, study: optuna.Study) -> None:
        failed = fail_orphaned_trials(study)
        if failed:
            log.warning(
                "trials %s were left RUNNING by a sweep that is gone (killed?): marked FAIL, run again",
                failed,
            )

    def sweep(self, arguments: list[str]) -> None:
        """Run the study up to `n_trials` finished trials, then publish its best (or Pareto pick)."""
        params = [f"{k!s}={v}" for k, v in (self.params or {}).items()] + list(arguments)
        distributions, fixed, deletes = create_params_from_overrides(params)
        for name in fixed:
            distributions.pop(name, None)
        rank_of = started_for_trial()
        if rank_of is not None:
            self._run_rank(rank_of[0], rank_of[1], fixed, deletes)
            return
        grid = self._grid(distributions)
        n_trials = min(self.n_trials, math.prod(len(v) for v in grid.values())) if grid else self.n_trials
        storage = open_storage(
            str(self.storage), heartbeat_interval=self.heartbeat_interval, grace_period=self.grace_period
        )
        sampler = (
            self._make_sampler(grid or {})
            if self.seed is None
            else TrialSeededSampler(functools.partial(self._make_sampler, grid or {}), int(self.seed))
        )
        study = open_study(self, storage, sampler, distributions)
        self._fail_orphans(study)
        finished = len(study.get_trials(deepcopy=False, states=FINISHED))
        log.info(
            "Study %s in %s: %d of %d trials finished; sampler %s (%s), pruner %s",
            study.study_name,
            redact(str(self.storage)),
            finished,
            n_trials,
            type(sampler).__name__,
            "unseeded" if self.seed is None else f"seed {self.seed} + trial number",
            type(study.pruner).__name__,
        )
        if finished >= n_trials:
            self._complete(study, finished)
            return
        callbacks = [
            MaxTrialsCallback(n_trials, states=FINISHED),
            FailureBudget(self.max_failure_rate * n_trials, self.max_failure_rate, n_trials, self.errors),
            self.repeats,
            TrialProgress(n_trials, OmegaConf.select(self.config, "hpo.monitor", default="val/loss")),
        ]
        draws = n_trials  # at most the study's size from this process; the callback stops it sooner
        with self.repeats.quiet():
            while draws > 0 and not self.repeats.exhausted:
                refused = len(self.repeats.numbers)
                study.optimize(
                    functools.partial(self._objective, space=(distributions, fixed, deletes)),
                    n_trials=draws,
                    n_jobs=1 if self.in_process else max(1, self.n_jobs),
                    catch=(TrialFailed, RepeatedParams),  # FAIL, and the sweep goes on (within budgets)
                    callbacks=callbacks,
                )
                # A refused repeat is drawn again, while the study is short of its size.
                missing = n_trials - len(study.get_trials(deepcopy=False, states=FINISHED))
                draws = min(len(self.repeats.numbers) - refused, missing)
        if self.launched:
            pareto_csv = write_results(study, self.directions, Path(self.config.hydra.sweep.dir))
            publish_best(study, self.export, pareto_csv)

    def _complete(self, study: optuna.Study, finished: int) -> None:
        """A rerun of a complete study: nothing to train, and nothing published unless asked."""
        log.info(
            "Study %s complete (%d of n_trials=%d finished), nothing to run; raise hydra.sweeper.n_trials "
            "to grow it",
            study.study_name,
            finished,
            self.n_trials,
        )
        if (self.export or {}).get("publish_on_complete"):
            publish_best(study, self.export, None)
        elif self.export is not None:
            log.info(
                "Not published again: add hpo.export.publish_on_complete=true, or run "
                "python -m closecast.hpo.export with this command's overrides"
            )
