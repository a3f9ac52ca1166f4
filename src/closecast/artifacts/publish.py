"""Writing artifacts and publishing them to the served checkpoints folder, atomically.

`python -m closecast.artifacts.publish RUN_DIR/model.pt` publishes a run's artifact after the fact: a run
publishes only when asked (`publish=true`), so this is how an experiment, or the job of a multirun one
picks, gets served."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)


# A temporary of ours this much older than now belongs to a writer that died (a killed publish): a live
# writer keeps its file's mtime fresh, and artifacts take seconds to write.
STALE_TMP_SECONDS = 60.0


def remove_stale_temporaries(path: Path, older_than: float = STALE_TMP_SECONDS) -> list[Path]:
    """Delete `.<name>.*.tmp` files beside `path` (our own temporaries) untouched for `older_than` s."""
    path = Path(path)
    removed = []
    cutoff = time.time() - older_than
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if tmp.is_file() and tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:
            pass  # another writer cleaned it first
    if removed:
        log.info("removed %d stale temporary file(s) of %s left by a killed writer", len(removed), path)
    return removed


def atomic_write(path: Path, writer) -> None:
    """Write through a temporary file in the same folder, then rename: readers never see half a file.

    The file is created 0644 less the umask, like any file the user writes, so a server running as
    another user (a container) can read it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # os.open applies the umask to 0o644 itself (mkstemp would make it 0600).
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    try:
        writer(str(tmp))
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


def main(argv: list[str] | None = None) -> int:
    """`python -m closecast.artifacts.publish ARTIFACT`: check the artifact loads as the server loads it,
    then publish it; a file that does not load is one line on stderr and exit code 2."""
    from closecast.artifacts.schema import load_artifact

    parser = argparse.ArgumentParser(
        prog="python -m closecast.artifacts.publish",
        description="Publish a run's artifact (its run dir's model.pt) so the server serves it.",
    )
    parser.add_argument(
        "artifact", type=Path, help="a run's artifact, e.g. outputs/train/runs/<run>/model.pt"
    )
    parser.add_argument("--checkpoints-dir", default="checkpoints", help="the served folder (checkpoints)")
    parser.add_argument("--name", default="best.pt", help="the published file's name (best.pt)")
    args = parser.parse_args(argv)
    if Path(args.name).name != args.name or not args.name.endswith(".pt"):
        print(
            f"error: --name {args.name!r} must be a file name ending in .pt, e.g. --name best.pt",
            file=sys.stderr,
        )
        return 2
    try:
        load_artifact(args.artifact)
    except FileNotFoundError:
        print(f"error: {args.artifact}: no such file; give a run's model.pt", file=sys.stderr)
        return 2
    except Exception as exc:  # ArtifactError, a directory, an unreadable file: one line, no traceback
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    print(f"published: {publish(args.artifact, args.checkpoints_dir, args.name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
