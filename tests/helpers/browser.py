"""A real headless browser for the page tests: Debian's Chromium (`.ci/chromium.sh` installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

# Every host but loopback fails to resolve: a page that needs anything from elsewhere shows it.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


def chromium() -> str:
    """The Chromium binary; skips the test without one, except in CI (`CI` set), where it fails."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is missing; CI installs it with .ci/chromium.sh")
    pytest.skip("chromium is not installed (apt-get install -y chromium, or .ci/chromium.sh)")


def browse(url: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run headless Chromium on `url` with `args` (`--dump-dom`, `--screenshot=…`), a fresh profile."""
    binary = chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def screenshot(url: str, path: Path) -> Path:
    """A 1200×900 PNG of `url` at `path`."""
    out = browse(url, f"--screenshot={path}", "--window-size=1200,900")
    assert path.is_file(), out.stderr
    return path


def dom(url: str) -> str:
    """The DOM of `url` after its scripts ran (up to five seconds of virtual time)."""
    out = browse(url, "--dump-dom", "--virtual-time-budget=5000")
    assert out.returncode == 0, out.stderr
    return out.stdout
