"""Optuna study storage shared by the sweeper, the trials it launches and the export command.

A study lives in an RDB storage (SQLite on one machine, PostgreSQL across machines). Every process
opens it through `open_storage`, so an unreachable database fails the same clear way everywhere.
A sweep's trials carry Optuna's heartbeats (`RDBStorage(heartbeat_interval=, grace_period=)`, beaten and
checked by `Study.optimize`) and the host and pid of the sweep that runs them: a trial whose sweep was
killed is failed by the next sweep at once on the same host, elsewhere once its heartbeat is stale."""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

import closecast.training.warning_filters  # noqa: F401

log = logging.getLogger(__name__)


DEFAULT_STORAGE = "sqlite:///outputs/optuna.db"


CONNECT_ATTEMPTS = 3


class StorageError(RuntimeError):
    """A study storage URL that is malformed or cannot be reached."""


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def open_storage(
    url: str, *, heartbeat_interval: int | None = None, grace_period: int | None = None
) -> optuna.storages.RDBStorage:
    """Connect to the study database (creating a SQLite file's folder), or raise `StorageError`."""
    if not isinstance(url, str) or "://" not in url:
        raise StorageError(
            f"optuna storage {url!r} is not a database URL; use e.g. hpo.storage={DEFAULT_STORAGE} "
            "or hpo.storage=postgresql://user:password@host:5432/dbname"
        )
    engine_kwargs: dict = {}
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Concurrent trials write to one file: wait for the lock instead of failing at once.
        engine_kwargs = {"connect_args": {"timeout": 60}}
    elif url.startswith(("postgresql", "mysql")):
        engine_kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    error: Exception | None = None
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
            )
        except Exception as exc:
            # Processes starting together on a fresh database race to create its tables: retry.
            error = exc
            if attempt + 1 < CONNECT_ATTEMPTS:
                time.sleep(1.0 + attempt)
    text = str(error).strip()
    reason = text.splitlines()[0] if text else type(error).__name__
    raise StorageError(
        f"optuna storage {redact(url)!r} cannot be reached ({reason}); start the database server, "
        f"fix hpo.storage, or use the one-machine default hpo.storage={DEFAULT_STORAGE}"
    ) from error


def load_trial(storage: optuna.storages.BaseStorage, study_name: str, number: int) -> optuna.trial.Trial:
    """The live trial `number` of a study, as the process that runs it sees it."""
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError as exc:
        raise KeyError(f"study {study_name!r} not found in the storage; was it created by a sweep?") from exc
    study_id = storage.get_study_id_from_name(study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, int(number))
    return optuna.trial.Trial(study, trial_id)


def claim(trial: optuna.trial.Trial) -> None:
    """Record on `trial` the host and pid of the sweep process that runs it (see `fail_orphaned_trials`)."""
    trial.set_user_attr("sweep_host", socket.gethostname())
    trial.set_user_attr("sweep_pid", os.getpid())


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def fail_orphaned_trials(study: optuna.Study) -> list[int]:
    """Mark FAIL the RUNNING trials whose sweep is gone; return their numbers.

    Gone means: its sweep process ran on this host and its pid is dead (known at once, e.g. a rerun right
    after a SIGKILL, long before the heartbeat goes stale), or its heartbeat is older than the storage's
    grace period (any host; Optuna's `fail_stale_trials`).
    """
    host, me = socket.gethostname(), os.getpid()
    before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("sweep_pid")
        if t.user_attrs.get("sweep_host") != host or not isinstance(pid, int) or pid == me:
            continue
        if not process_alive(pid):
            try:
                study.tell(t.number, state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another sweep failed it first
    optuna.storages.fail_stale_trials(study)
    return [
        t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)) if t.number in before
    ]
