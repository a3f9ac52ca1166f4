"""Writing artifacts and publishing them to the served checkpoints folder, atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch


def atomic_write(path: Path, writer) -> None:
    """Write through a temporary file in the same folder, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_artifact(artifact: dict[str, Any], path: str | Path) -> Path:
    """Save atomically; returns the path."""
    path = Path(path)
    atomic_write(path, lambda tmp: torch.save(artifact, tmp))
    return path


def publish(artifact_path: str | Path, checkpoints_dir: str | Path, name: str = "best.pt") -> Path:
    """Copy an artifact into the served checkpoints folder, atomically."""
    target = Path(checkpoints_dir) / name
    atomic_write(target, lambda tmp: shutil.copyfile(artifact_path, tmp))
    return target
