"""Atomic writes and publishing: readable by other users, no temporaries left behind by killed writers."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
import torch

from closecast.artifacts.publish import atomic_write, publish, save_artifact


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_and_published_files_are_world_readable(tmp_path, umask_022):
    # A server running as another user (the documented container) must be able to read what we publish.
    artifact = save_artifact({"weights": torch.zeros(2)}, tmp_path / "run" / "model.pt")
    published = publish(artifact, tmp_path / "checkpoints")
    atomic_write(tmp_path / "run" / "metrics.json", lambda tmp: Path(tmp).write_text("{}"))
    for path in (artifact, published, tmp_path / "run" / "metrics.json"):
        assert mode(path) == 0o644, path
    assert torch.load(published, weights_only=True)["weights"].shape == (2,)


def test_umask_is_respected(tmp_path):
    old = os.umask(0o077)
    try:
        path = save_artifact({"x": torch.ones(1)}, tmp_path / "private.pt")
    finally:
        os.umask(old)
    assert mode(path) == 0o600


def test_publish_removes_stale_temporaries_of_killed_writers(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    stale = folder / ".best.pt.k1ll3d.tmp"
    fresh = folder / ".best.pt.wr1t1ng.tmp"  # a writer still at work: left alone
    other = folder / ".other.pt.k1ll3d.tmp"  # another file's temporary: not ours to judge here
    for path in (stale, fresh, other):
        path.write_bytes(b"half an artifact")
    old = time.time() - 3600
    for path in (stale, other):
        os.utime(path, (old, old))
    source = save_artifact({"x": torch.ones(1)}, tmp_path / "model.pt")

    publish(source, folder)

    assert not stale.exists()
    assert fresh.exists() and other.exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted([".best.pt.wr1t1ng.tmp", other.name, "best.pt"])


def test_failed_write_leaves_no_temporary(tmp_path):
    def broken(tmp: str) -> None:
        Path(tmp).write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "best.pt", broken)
    assert list(tmp_path.iterdir()) == []
