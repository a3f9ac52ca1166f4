"""DDP trials in a sweep. Lightning starts ranks 1.. of a job by running the sweep's command line again;
such a process must run the trial of its rank 0, not a sweep of its own (which would start new trials)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

TRIAL = "CLOSECAST_HPO_TRIAL"
SWEEP_DIR = "CLOSECAST_HPO_SWEEP_DIR"


def started_for_trial() -> tuple[int, str] | None:
    """(trial number, sweep dir) when this process is a DDP rank > 0 started for a trial; else None."""
    if os.environ.get("LOCAL_RANK", "0") in ("", "0") or TRIAL not in os.environ:
        return None
    return int(os.environ[TRIAL]), os.environ[SWEEP_DIR]


@contextmanager
def trial_environment(number: int, sweep_dir: str) -> Iterator[None]:
    """While an in-process job runs, tell the ranks Lightning may start which trial is theirs.

    The environment is restored afterwards: Lightning leaves its rank variables behind, which would make
    the next trial's DDP believe its ranks were already started.
    """
    saved = dict(os.environ)
    os.environ[TRIAL], os.environ[SWEEP_DIR] = str(number), sweep_dir
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
