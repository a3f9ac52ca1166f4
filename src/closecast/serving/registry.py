"""The artifacts of the checkpoints directory, loaded once (`weights_only=True`) and swapped on reload.

A request names a checkpoint; the name is only ever looked up here, so no request can make the server
open a file (no paths, no `..`, no links out of the directory).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path, PurePosixPath
from typing import Any

from closecast.artifacts.limits import exceeded
from closecast.artifacts.schema import WITHIN_LIMITS, ArtifactError, load_artifact
from closecast.serving.entry import Entry

__all__ = ["DEFAULT_CHECKPOINT", "CheckpointNotFound", "Entry", "Registry"]

log = logging.getLogger("closecast.serve")

DEFAULT_CHECKPOINT = "best.pt"
# How a client learns where a checkpoint should be: the setting, never the server's own path.
WHERE = "the checkpoints directory (CHECKPOINTS_DIR)"

Stamp = tuple[int, int, int]  # mtime_ns, size, inode: a file that changed has a new one


class CheckpointNotFound(LookupError):
    """A checkpoint reference that names nothing in the registry."""


def _stamp(path: Path) -> Stamp:
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


def _digest(path: Path) -> str:
    with path.open("rb") as f:  # in chunks: an artifact may weigh up to the limit
        return hashlib.file_digest(f, "sha256").hexdigest()


def _one_line(exc: BaseException) -> str:
    """The reason an exception gives, on one line; an OS error's own words only (its text names paths)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, ValueError | OSError | LookupError) else f"{type(exc).__name__}: {text}"


def _undecodable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes the file system held that are not UTF-8 (surrogate escapes)
        return True
    return False


class Registry:
    """The artifacts of one directory, loaded once and swapped whole on reload.

    Each file is loaded on its own: one that fails (too large, not an artifact, cannot answer) is listed
    under `errors` with a one-line reason and not read again until it changes (path, size, mtime, inode).
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.entries: dict[str, Entry] = {}
        self.errors: dict[str, str] = {}
        self.failed: dict[str, tuple[Stamp, str]] = {}  # name -> the stamp it failed at, and why
        self.degraded: str | None = None  # the newest file's error, when the newest file failed
        self._skipped: set[str] = set()
        self._lock = threading.Lock()
        self._resolved: dict[str, Entry] = {}  # reference -> entry, emptied on reload

    @property
    def names(self) -> list[str]:
        """Names of the loaded artifacts."""
        return sorted(self.entries)

    def _candidates(self) -> tuple[dict[str, tuple[Path, Stamp]], dict[str, str], dict[str, int]]:
        """The loadable files (name -> target, stamp), the entries refused without reading them (name ->
        why) and every entry's modification time (for which one is newest)."""
        found: dict[str, tuple[Path, Stamp]] = {}
        skipped: dict[str, str] = {}
        mtimes: dict[str, int] = {}
        try:
            root = self.directory.resolve()
            if not root.is_dir():
                what = "is a file, not a directory" if root.exists() else "does not exist"
                raise NotADirectoryError(what)
            names = sorted(e.name for e in os.scandir(root) if e.name.endswith(".pt"))
        except (OSError, RuntimeError) as exc:
            what = (
                exc.args[0] if isinstance(exc, NotADirectoryError) else f"cannot be read ({_one_line(exc)})"
            )
            skipped[WHERE] = f"{WHERE} {what}; train with `make train` or set CHECKPOINTS_DIR to a directory"
            return found, skipped, mtimes
        for name in names:
            if name.startswith("."):  # half-written files of an atomic publish
                continue
            if not name.isprintable() or _undecodable(name):  # no answer could carry such a name
                shown = ascii(name)[1:-1]
                skipped[shown] = f"{shown}: the file name is not printable UTF-8; not served (rename it)"
                continue
            path = root / name
            try:
                mtimes[name] = path.lstat().st_mtime_ns
                target = path.resolve(strict=True)  # a link loop raises here
                if target.parent != root:
                    skipped[name] = (
                        f"{name}: links outside the checkpoints directory; not served (copy the file in)"
                    )
                elif not target.is_file():
                    skipped[name] = f"{name}: not a regular file; not served"
                else:
                    found[name] = target, _stamp(target)
                    mtimes[name] = max(mtimes[name], found[name][1][0])
            except (OSError, RuntimeError) as exc:  # a loop, a dangling link, no permission
                reason = _one_line(exc).replace(f"{root}{os.sep}", "").replace(str(root), ".")
                skipped[name] = f"{name}: cannot be read ({reason}); not served"
        return found, skipped, mtimes

    def _load(self, name: str, path: Path, stamp: Stamp) -> Entry:
        too_large = exceeded(None, stamp[1])  # before reading a byte: the file may be sparse and huge
        if too_large:
            raise ArtifactError(f"{too_large}; {WITHIN_LIMITS}")
        return Entry(name, path, stamp, load_artifact(path), _digest(path))

    def reload(self) -> dict[str, Any]:
        """Load new or changed artifacts, drop removed ones; a file that fails keeps its old version."""
        with self._lock:
            found, errors, mtimes = self._candidates()
            entries: dict[str, Entry] = {}
            failed: dict[str, tuple[Stamp, str]] = {}
            added, updated = [], []
            for name, (path, stamp) in found.items():
                old = self.entries.get(name)
                if old is not None and old.stamp == stamp and old.path == path:
                    entries[name] = old
                    continue
                known = self.failed.get(name)
                if known is None or known[0] != stamp:
                    try:
                        entries[name] = self._load(name, path, stamp)
                        (updated if old is not None else added).append(name)
                        continue
                    except Exception as exc:  # any failure of one file is that file's alone
                        # The file's name only: /models shows these, and paths are not for clients.
                        reason = _one_line(exc).removeprefix(f"{path}: ").replace(str(path), name)
                        reason = reason.replace(f"{path.parent}{os.sep}", "")
                        kept = "; still serving the previous version" if old else ""
                        known = stamp, f"{name}: {reason}{kept}"
                failed[name], errors[name] = known, known[1]
                if old is not None:
                    entries[name] = old
            removed = sorted(set(self.entries) - set(entries))
            before = self.errors
            newest = max(mtimes, key=lambda n: (mtimes[n], n)) if mtimes else None
            self.entries, self.failed, self._resolved = entries, failed, {}
            self.errors = errors = dict(sorted(errors.items()))
            self._skipped = set(errors) - set(failed)
            self.degraded = errors.get(newest) if newest else None
        for name in added + updated:
            log.info("loaded %s from %s", name, entries[name].path)
        for name, message in errors.items():
            if before.get(name) != message:  # once per failure, not at every reload
                log.warning("skipped %s", message)
        return {
            "loaded": self.names,
            "added": added,
            "updated": updated,
            "removed": removed,
            "errors": errors,
        }

    def changed(self) -> bool:
        """Whether the directory's artifacts differ from what is loaded or refused (stat only, no reads)."""
        found, skipped, _ = self._candidates()
        known = {name: entry.stamp for name, entry in self.entries.items()}
        known.update({name: stamp for name, (stamp, _) in self.failed.items()})
        return {name: stamp for name, (_, stamp) in found.items()} != known or set(skipped) != self._skipped

    def resolve(self, reference: str | None) -> Entry:
        """The entry a request's `checkpoint_path` names: `best`, `best.pt` or `<checkpoints dir>/best.pt`."""
        cached = self._resolved.get(reference or "")
        if cached is not None:
            return cached
        raw = (reference or "").strip() or DEFAULT_CHECKPOINT
        path = PurePosixPath(raw.replace("\\", "/"))
        refused = (
            f"checkpoint_path {raw!r} is refused: give the name of an artifact in the checkpoints "
            f"directory, e.g. 'best' or 'best.pt' (loaded: {', '.join(self.names) or 'none'})"
        )
        if "\x00" in raw or path.is_absolute() or ".." in path.parts or not path.parts:
            raise CheckpointNotFound(refused)
        if len(path.parts) > 1:
            configured = PurePosixPath(str(self.directory).replace("\\", "/"))
            allowed = {("checkpoints",), (self.directory.name,)}
            if not configured.is_absolute():
                allowed.add(configured.parts)
            if path.parts[:-1] not in allowed:
                raise CheckpointNotFound(refused)
        name = path.parts[-1]
        for candidate in (name,) if name.endswith(".pt") else (f"{name}.pt", name):
            entry = self.entries.get(candidate)
            if entry is not None:
                if len(self._resolved) < 1024:  # bounded: references are client-chosen strings
                    self._resolved[reference or ""] = entry
                return entry
        raise CheckpointNotFound(
            f"checkpoint {raw!r} is not loaded (loaded: {', '.join(self.names) or 'none'}); publish it "
            f"to {WHERE} and POST /models/reload"
        )
