"""The errors a user can fix, and how command-line entry points end on one: one line on stderr, exit 2."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class DataError(ValueError):
    """A problem with a run's input that the user can fix (wrong source, too short, bad file, a checkpoint
    that cannot be resumed)."""


class InputError(ValueError):
    """Values, horizon, interval or device a caller can correct."""


def _in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@contextmanager
def exit_on_data_error() -> Iterator[None]:
    """A `DataError` raised inside becomes `error: <message>` (one line) on stderr and exit code 2.

    Inside a Hydra sweep it propagates instead, so the sweep records the trial as failed and goes on.
    """
    try:
        yield
    except DataError as exc:
        if _in_sweep():
            raise
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        sys.exit(2)
