"""The command `python -m closecast.serve` (and `make serve`): read the settings, start uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile

from closecast.serving.settings import Settings, SettingsError

USAGE = """Serve the artifacts (*.pt) of a checkpoints directory over HTTP.

Settings come from the environment, or from the options below (an option wins over its variable):
  HOST             address to listen on (default 127.0.0.1; the container sets 0.0.0.0)
  PORT             port (default 9010)
  WORKERS          server processes (default 1)
  CHECKPOINTS_DIR  directory of published artifacts (default checkpoints)
  RELOAD_INTERVAL  seconds between looks for new or changed artifacts; 0 turns it off (default 10)
  BODY_TIMEOUT     seconds a request body may stall before a 408 (default 10)
  COALESCE         concurrent /predict requests to one checkpoint share a network call (default
                   true; false: one call per request)
  API_KEY          when set, /predict, /models and /models/reload need `Authorization: Bearer <key>`
                   (printable ASCII, no spaces around it; checked before a request's body)

Routes: POST /predict, GET /health, GET /models, POST /models/reload, GET /metrics, GET /docs.
"""


# The options uvicorn users reach for first, each setting its variable (checked as the variable is).
FLAGS = {
    "--host": "HOST",
    "--port": "PORT",
    "--workers": "WORKERS",
    "--checkpoints-dir": "CHECKPOINTS_DIR",
    "--reload-interval": "RELOAD_INTERVAL",
}


def main(argv: list[str] | None = None) -> int:
    """Run uvicorn with the settings from the environment and the options; exit 2 with one line on a bad
    setting."""
    parser = argparse.ArgumentParser(
        prog="python -m closecast.serve",
        description=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for flag, name in FLAGS.items():
        parser.add_argument(flag, metavar=name, help=f"sets {name}")
    args = parser.parse_args(argv)
    for flag, name in FLAGS.items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:  # the workers read the settings from the environment too
            os.environ[name] = value
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers are separate processes; a shared folder lets /metrics add up all of them.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="closecast-metrics-")
    uvicorn.run(
        "closecast.serving.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
        access_log=False,
    )
    return 0
