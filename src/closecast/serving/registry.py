"""The artifacts of the checkpoints directory, loaded once (`weights_only=True`) and swapped on reload.

A request names a checkpoint; the name is only ever looked up here, so no request can make the server
open a file (no paths, no `..`, no links out of the directory).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from closecast.artifacts.schema import ArtifactError, load_artifact
from closecast.inference.forecaster import Forecaster, parse_device
from closecast.serving.metrics import INFERENCE

log = logging.getLogger("closecast.serve")

DEFAULT_CHECKPOINT = "best.pt"
METRIC_KEYS = ("mae", "rmse", "mape", "mase")
DATA_KEYS = ("start", "end", "train_end", "val_end")
# What /models reports of an artifact's input layout (its series share it). It never reports the training
# config, run directory or storage URLs.
LAYOUT_KEYS = ("features", "target")


class CheckpointNotFound(LookupError):
    """A checkpoint reference that names nothing in the registry."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def series_context(name: str | None, record: dict[str, Any]) -> dict[str, Any]:
    """The part of a /predict answer for one series of an artifact (None: an unseen series)."""
    data, metrics = record["data"], record["metrics"]
    return {
        "series": name,
        "ticker": _text(data.get("ticker", name)),
        "feature": _text(data.get("feature")),
        "data": {k: _text(data.get(k)) for k in DATA_KEYS},
        "metrics": {k: _number(metrics.get(f"test/{k}")) for k in METRIC_KEYS},
    }


@dataclass
class Entry:
    """One loaded artifact: its forecasters (one per device) and what we report about it."""

    name: str
    path: Path
    stamp: tuple[int, int, int]
    artifact: dict[str, Any]
    sha256: str
    forecasters: dict[str, Forecaster] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # This checkpoint's series of the inference-time histogram, looked up once rather than per request.
        self.inference_seconds = INFERENCE.labels(self.name)
        forecaster = self.forecasters["cpu"] = Forecaster(self.artifact, "cpu")
        # One forecast now, so the first client does not wait for the kernels' one-time setup.
        ones = [1.0] * forecaster.window
        forecaster.predict(ones, high=ones, low=ones, series=forecaster.names[0])
        art = self.artifact
        # The part of every /predict answer that depends only on the artifact, then on the series.
        self.context = {"checkpoint": self.name, "window": art["window"], "horizon_max": art["horizon"]}
        self.series_context: dict[str | None, dict[str, Any]] = {
            name: series_context(name, record) for name, record in art["series"].items()
        }
        self.series_context[None] = series_context(None, {"data": {}, "metrics": {}})
        only = next(iter(art["series"].values())) if len(art["series"]) == 1 else None
        layout = next(iter(art["series"].values()))["codec"]
        self.info = {
            "name": self.name,
            "sha256": self.sha256,
            "size_bytes": self.stamp[1],
            "modified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.stamp[0] / 1e9)),
            "window": art["window"],
            "horizon": art["horizon"],
            **{k: layout.get(k) for k in LAYOUT_KEYS},
            # One series: its ticker, feature and data range here too, as before series were listed.
            **{k: _text(only["data"].get(k)) if only else None for k in ("ticker", "feature")},
            "data": {k: _text(only["data"].get(k)) if only else None for k in DATA_KEYS},
            "created": art.get("created"),
            "inputs": forecaster.inputs,  # the request arrays this model reads
            "series": [
                {
                    "name": name,
                    **{k: v for k, v in self.series_context[name].items() if k != "series"},
                    "point": forecaster.series[name].point,
                    "serves": forecaster.metadata["serves"][name],
                }
                for name in art["series"]
            ],
            "model": dict(art["model"]),
            "metrics": {k: _number(v) for k, v in art["metrics"].items()},
            "versions": dict(art["versions"]),
        }

    def forecaster(self, device: str | None) -> Forecaster:
        """The forecaster on `device` (built from the in-memory artifact), or `InputError`."""
        found = self.forecasters.get(device or "cpu")
        if found is not None:
            return found
        dev = parse_device(device)
        # One key per real device: `cpu:7` is the CPU and must not build a forecaster of its own.
        key = "cpu" if dev.type == "cpu" else str(dev)
        found = self.forecasters.get(key) or Forecaster(self.artifact, dev)
        self.forecasters[key] = found
        return found


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size, st.st_ino


class Registry:
    """The artifacts of one directory, loaded once and swapped whole on reload."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.entries: dict[str, Entry] = {}
        self.errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._resolved: dict[str, Entry] = {}  # reference -> entry, emptied on reload

    @property
    def names(self) -> list[str]:
        """Names of the loaded artifacts."""
        return sorted(self.entries)

    def _candidates(self) -> tuple[dict[str, Path], dict[str, str]]:
        root = self.directory.resolve()
        found: dict[str, Path] = {}
        skipped: dict[str, str] = {}
        if not root.is_dir():
            what = "is a file, not a directory" if root.exists() else "does not exist"
            skipped[str(self.directory)] = (
                f"checkpoints directory {str(self.directory)!r} {what}; "
                "train with `make train` or set CHECKPOINTS_DIR to a directory"
            )
            return found, skipped
        for path in sorted(root.glob("*.pt")):
            if path.name.startswith("."):  # half-written files of an atomic publish
                continue
            target = path.resolve()
            if target.parent != root:
                skipped[path.name] = (
                    f"{path.name}: links outside the checkpoints directory; not served (copy the file in)"
                )
            elif not target.is_file():
                skipped[path.name] = f"{path.name}: not a regular file; not served"
            else:
                found[path.name] = target
        return found, skipped

    def reload(self) -> dict[str, Any]:
        """Load new or changed artifacts, drop removed ones; a file that fails keeps its old version."""
        with self._lock:
            found, errors = self._candidates()
            entries: dict[str, Entry] = {}
            added, updated = [], []
            for name, path in found.items():
                old = self.entries.get(name)
                try:
                    stamp = _stamp(path)
                    if old is not None and old.stamp == stamp and old.path == path:
                        entries[name] = old
                        continue
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                    entries[name] = Entry(name, path, stamp, load_artifact(path), digest)
                    (updated if old is not None else added).append(name)
                except (ArtifactError, OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:
                    # The file's name only: /models shows these, and paths are not for clients.
                    reason = str(exc).replace(str(path), name).replace(str(path.parent), "")
                    kept = "; still serving the previous version" if old else ""
                    errors[name] = f"{name}: {reason}{kept}"
                    if old is not None:
                        entries[name] = old
            removed = sorted(set(self.entries) - set(entries))
            self.entries, self.errors, self._resolved = entries, errors, {}
        for name in added + updated:
            log.info("loaded %s from %s", name, entries[name].path)
        for message in errors.values():
            log.warning("skipped %s", message)
        return {
            "loaded": self.names,
            "added": added,
            "updated": updated,
            "removed": removed,
            "errors": errors,
        }

    def changed(self) -> bool:
        """Whether the directory's artifacts differ from what is loaded (stat only, no reads)."""
        found, _ = self._candidates()
        if set(found) != set(self.entries):
            return True
        try:
            return any(_stamp(path) != self.entries[name].stamp for name, path in found.items())
        except OSError:
            return True

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
            f"to {str(self.directory)!r} and POST /models/reload"
        )
