"""A real `python -m closecast.serve` on a free loopback port, for the serving tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PortTaken(RuntimeError):
    """The server could not bind its port: something else took it first."""


def _start(port: int, log, checkpoints_dir: Path, env: dict[str, str]) -> subprocess.Popen:
    full_env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "1",
        "CHECKPOINTS_DIR": str(checkpoints_dir),
        "RELOAD_INTERVAL": "0",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "closecast.serve"],
        cwd=ROOT,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait_ready(proc: subprocess.Popen, log, port: int, timeout: float, ready_status: tuple[int, ...]) -> str:
    """Poll /health until it answers one of `ready_status`; the base URL."""
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            log.seek(0)
            text = log.read()
            if "address already in use" in text.lower():
                raise PortTaken(text)
            raise RuntimeError(f"server exited with {proc.returncode}:\n{text}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code in ready_status:
                return url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            log.seek(0)
            proc.kill()
            proc.wait()
            raise RuntimeError(f"server not ready after {timeout}s:\n{log.read()}")
        time.sleep(0.2)


@contextlib.contextmanager
def live_server(
    checkpoints_dir: Path, timeout: float = 120.0, ready_status: tuple[int, ...] = (200, 503), **env: str
) -> Iterator[str]:
    """Start the server as `make serve` does, wait until /health answers, yield its base URL, stop it."""
    for attempt in range(3):
        port = free_port()
        log = (Path(checkpoints_dir).parent / f"server-{port}.log").open("w+")
        proc = _start(port, log, checkpoints_dir, env)
        try:
            url = _wait_ready(proc, log, port, timeout, ready_status)
            break
        except PortTaken:
            # Another process bound the port between `free_port` and the server's bind: take another.
            log.close()
            if attempt == 2:
                raise
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
