"""The HTTP service: `make serve` / `python -m closecast.serve`.

Every `*.pt` artifact in the checkpoints directory is loaded once, with `weights_only=True`, into an
in-memory registry. A request names a checkpoint; the name is only ever looked up in that registry, so
no request can make the server open a file (no paths, no `..`, no links out of the directory).

Settings come from the environment (the Makefile and the Dockerfile export the same names):
HOST (0.0.0.0), PORT (9010), WORKERS (1), CHECKPOINTS_DIR (checkpoints), RELOAD_INTERVAL (10 seconds
between looks for new or changed artifacts; 0 turns the watch off, `POST /models/reload` still works),
BATCH_MAX (32 forecasts at most in one network call; 1 runs each request alone, on the event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

import numpy as np
import torch
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import ClientDisconnect

from closecast.artifact import ArtifactError, load_artifact
from closecast.forecaster import Forecaster, InputError, parse_device
from closecast.monitoring import (
    BATCH,
    CONTENT_TYPE_LATEST,
    INFERENCE,
    MODELS,
    metrics_payload,
    record_request,
    sample_process,
)

log = logging.getLogger("closecast.serve")

MAX_VALUES = 10_000  # values per request; a window is tens of prices, so this is generous
MAX_BODY_BYTES = 512 * 1024  # fits MAX_VALUES numbers written with full float precision
MAX_HORIZON = 1_000
DEFAULT_CHECKPOINT = "best.pt"
METRIC_KEYS = ("mae", "rmse", "mape", "mase")


# ---------------------------------------------------------------------------------------------- settings


class SettingsError(ValueError):
    """An environment variable with a value the server cannot use."""


@dataclass(frozen=True)
class Settings:
    """Where to listen and what to serve."""

    checkpoints_dir: Path = Path("checkpoints")
    host: str = "0.0.0.0"
    port: int = 9010
    workers: int = 1
    reload_interval: float = 10.0
    batch_max: int = 32

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read HOST, PORT, WORKERS, CHECKPOINTS_DIR, RELOAD_INTERVAL, BATCH_MAX, or say which is wrong."""
        env = dict(os.environ if env is None else env)

        def number(name: str, kind: type, default: Any, low: float, high: float) -> Any:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                value = None
            if value is None or not (low <= value <= high) or (kind is float and not math.isfinite(value)):
                raise SettingsError(
                    f"{name}={raw!r} is not a {kind.__name__} from {low} to {high}; unset it for {default}"
                )
            return value

        return cls(
            checkpoints_dir=Path(env.get("CHECKPOINTS_DIR", "").strip() or "checkpoints"),
            host=env.get("HOST", "").strip() or "0.0.0.0",
            port=number("PORT", int, 9010, 1, 65535),
            workers=number("WORKERS", int, 1, 1, 64),
            reload_interval=number("RELOAD_INTERVAL", float, 10.0, 0.0, 86400.0),
            batch_max=number("BATCH_MAX", int, 32, 1, 1024),
        )


# ---------------------------------------------------------------------------------------------- registry


class CheckpointNotFound(LookupError):
    """A checkpoint reference that names nothing in the registry."""


def _finite_or_none(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    """Metadata made JSON-safe: tensors to lists, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return _plain(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


class InferenceThread:
    """The thread that runs the network for every batcher of a server process.

    Requests are parsed and answered on the event loop; their windows queue here. The thread takes all
    that are waiting, runs each checkpoint's share as one batched call (compiled, so it runs without
    Python's lock: see `closecast.forecaster`), and hands the rows back to the loop. Under load the loop
    keeps parsing while the network runs on another core, and the queue fills the next batch meanwhile.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None  # started by the first forecast
        self._lock = threading.Lock()

    def submit(self, batcher: Batcher, window: np.ndarray, future: asyncio.Future) -> None:
        """Queue one checked window; `future` (of the running loop) gets its row of the forecast."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    thread = threading.Thread(target=self._serve, name="closecast-inference", daemon=True)
                    thread.start()
                    self._thread = thread
        self._queue.put((batcher, window, future))

    def _serve(self) -> None:
        # Thread counts are per thread: without this the kernels' thread pool would start (and spin)
        # here, competing with the event loop for the cores.
        torch.set_num_threads(1)
        while True:
            waiting = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    waiting.append(self._queue.get_nowait())
            groups: dict[Batcher, list[tuple[np.ndarray, asyncio.Future]]] = {}
            for batcher, window, future in waiting:
                groups.setdefault(batcher, []).append((window, future))
            for batcher, items in groups.items():
                for start in range(0, len(items), batcher.max_batch):
                    batcher.run_batch(items[start : start + batcher.max_batch])


def _deliver(futures: list[asyncio.Future], outcome: np.ndarray | BaseException) -> None:
    for i, future in enumerate(futures):
        if future.done():  # the client went away
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome[i])


class Batcher:
    """One checkpoint on one device: forecasts queued together share one network call.

    On the CPU one LSTM call for 8 windows costs about twice a call for one, so under load batching
    is most of the server's throughput. A lone request is a batch of one. Encoding and decoding are
    elementwise, so a batched answer differs from a lone one only by float32 rounding (~1e-7).
    """

    def __init__(self, forecaster: Forecaster, name: str, max_batch: int, thread: InferenceThread) -> None:
        self.forecaster, self.name, self.max_batch, self.thread = forecaster, name, max_batch, thread
        self._inference = INFERENCE.labels(name)
        self.device = str(forecaster.device)
        self.device_json = json.dumps(self.device)
        # Only the compiled CPU forecast runs without Python's lock; op by op (other devices, other
        # networks) a thread would have to win the lock back from the busy loop between every two
        # kernels, so those forecasts run on the event loop, one request at a time.
        self.threaded = max_batch > 1 and forecaster.compiled

    async def predict(self, values: list[float], horizon: int | None, interval: float | None) -> dict:
        """The forecaster's answer for one request, computed in a batch with whatever is waiting."""
        forecaster = self.forecaster
        if horizon is None and interval is None and len(values) >= forecaster.window:
            # The request schema has already refused anything but finite positive numbers: only the
            # window is left to take (the general check below scans every value again).
            window, h = np.array(values[-forecaster.window :], dtype=np.float64), 1
        else:
            window, h = forecaster.check(values, horizon, interval)
        if not self.threaded:
            row = self._run([window])[0]
        else:
            future = asyncio.get_running_loop().create_future()
            self.thread.submit(self, window, future)
            row = await future
        return forecaster.answer(row, window, h, interval)

    def _run(self, windows: list[np.ndarray]) -> np.ndarray:
        start = time.perf_counter()
        forecast = self.forecaster.forecast(np.stack(windows))
        self._inference.observe(time.perf_counter() - start)
        BATCH.observe(len(windows))
        return forecast

    def run_batch(self, items: list[tuple[np.ndarray, asyncio.Future]]) -> None:
        """Forecast queued windows in one call and send each row to its request's loop (inference thread)."""
        live = [(w, f) for w, f in items if not f.done()]
        if not live:
            return
        try:
            outcome: np.ndarray | BaseException = self._run([w for w, _ in live])
        except Exception as exc:  # every waiting request hears of it, none hangs
            outcome = exc
        loops = {future.get_loop() for _, future in live}
        for loop in loops:  # one, in a server; tests may drive one batcher from several
            rows = [i for i, (_, future) in enumerate(live) if future.get_loop() is loop]
            futures = [live[i][1] for i in rows]
            part = outcome if isinstance(outcome, BaseException) or len(loops) == 1 else outcome[rows]
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting
                loop.call_soon_threadsafe(_deliver, futures, part)


@dataclass
class Entry:
    """One loaded artifact: its forecasters (one per device, built from memory) and what we report."""

    name: str
    path: Path
    stamp: tuple[int, int, int]
    artifact: dict[str, Any]
    sha256: str
    forecasters: dict[str, Forecaster] = field(default_factory=dict)
    batchers: dict[str, Batcher] = field(default_factory=dict)

    def __post_init__(self) -> None:
        forecaster = self.forecasters["cpu"] = Forecaster(self.artifact, "cpu")
        # One forecast now, so the first client does not wait for the kernels' one-time setup.
        forecaster.predict([1.0] * forecaster.window)
        meta = forecaster.metadata
        metrics = meta.get("metrics") or {}
        data = meta.get("data") or {}
        # The part of every /predict answer that depends only on the artifact, computed once.
        self.static = {
            "checkpoint": self.name,
            "window": int(meta["window"]),
            "horizon_max": int(meta["horizon"]),
            "ticker": meta.get("ticker"),
            "feature": meta.get("feature"),
            "data": {k: _plain(data.get(k)) for k in ("start", "end", "train_end", "val_end")},
            "metrics": {k: _finite_or_none(metrics.get(f"test/{k}")) for k in METRIC_KEYS},
        }
        self.static_json = json.dumps(self.static, allow_nan=False)
        self.info = {
            "name": self.name,
            "sha256": self.sha256,
            "size_bytes": self.stamp[1],
            "modified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.stamp[0] / 1e9)),
            **_plain({k: v for k, v in meta.items() if k != "format"}),
            "metrics": _plain(metrics),
        }

    def batcher(self, device: str | None, max_batch: int, thread: InferenceThread) -> Batcher:
        """The batcher for `device` (its forecaster built from the in-memory artifact), or `InputError`."""
        found = self.batchers.get(device or "cpu")  # the name as requested, usually `cpu`
        if found is not None:
            return found
        dev = parse_device(device)
        # One key per real device: `cpu:7` is the CPU, and must not build a forecaster of its own.
        key = "cpu" if dev.type == "cpu" else str(dev)
        found = self.batchers.get(key)
        if found is None:
            forecaster = self.forecasters.get(key) or Forecaster(self.artifact, dev)
            self.forecasters[key] = forecaster
            found = self.batchers[key] = Batcher(forecaster, self.name, max_batch, thread)
        if len(self.batchers) < 64:  # bounded: device names are client-chosen strings
            self.batchers[device or "cpu"] = found
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
        self._resolved: dict[str, Entry] = {}  # reference string -> entry, cleared on reload

    @property
    def names(self) -> list[str]:
        """Names of the loaded artifacts."""
        return sorted(self.entries)

    def _candidates(self) -> tuple[dict[str, Path], dict[str, str]]:
        root = self.directory.resolve()
        found: dict[str, Path] = {}
        skipped: dict[str, str] = {}
        if not root.is_dir():
            skipped[str(self.directory)] = (
                f"checkpoints directory {str(self.directory)!r} does not exist; "
                "train with `make train` or set CHECKPOINTS_DIR"
            )
            return found, skipped
        for path in sorted(root.glob("*.pt")):
            if path.name.startswith("."):  # half-written files of an atomic publish
                continue
            target = path.resolve()
            if target.parent != root:
                skipped[path.name] = f"{path.name}: links outside {root}; not served (copy the file in)"
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
                    raw = path.read_bytes()
                    artifact = load_artifact(path)
                    entries[name] = Entry(name, path, stamp, artifact, hashlib.sha256(raw).hexdigest())
                    (updated if old is not None else added).append(name)
                except (ArtifactError, OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:
                    errors[name] = f"{name}: {exc}" + ("; still serving the previous version" if old else "")
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


# ---------------------------------------------------------------------------------------------- schemas

Price = Annotated[float, Field(gt=0, allow_inf_nan=False)]
# fmt: off
EXAMPLE = {  # the reference body: 30 recent closes (the default window), oldest first
    "values": [
        65.1853, 64.8378, 65.4563, 66.6539, 58.4188, 57.0417, 58.3319, 59.4264, 59.2397, 59.0659,
        58.8234, 57.3576, 59.3712, 59.3071, 61.0603, 61.9419, 62.5874, 61.0186, 60.9025, 60.8477,
        60.0092, 59.987, 58.5343, 58.1704, 58.7899, 57.7453, 58.5499, 57.9761, 57.5627, 56.1374,
    ],
    "checkpoint_path": "checkpoints/best.pt",
    "device": "cpu",
}
# fmt: on


class PredictRequest(BaseModel):
    """The body of `POST /predict`: the reference's body, plus optional `horizon` and `interval`."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={"examples": [EXAMPLE]},
    )

    values: list[Price] = Field(
        min_length=1,
        max_length=MAX_VALUES,
        description=(
            f"Recent prices, oldest first: at least the checkpoint's window, at most {MAX_VALUES} "
            f"(only the last window is used). JSON numbers only; the whole body is at most "
            f"{MAX_BODY_BYTES} bytes."
        ),
    )
    checkpoint_path: str = Field(
        DEFAULT_CHECKPOINT,
        max_length=255,
        description="Name of a loaded artifact: `best`, `best.pt` or `checkpoints/best.pt`.",
    )
    device: str = Field("cpu", max_length=32, description="`cpu`, or `cuda`/`cuda:N` where present.")
    horizon: int | None = Field(
        None, ge=1, le=MAX_HORIZON, description="Steps ahead (default 1, at most the checkpoint's horizon)."
    )
    interval: float | None = Field(
        None, gt=0, le=0.999, description="Conformal prediction interval level, e.g. 0.9."
    )


class DataRange(BaseModel):
    """Dates of the training data."""

    start: str | None = None
    end: str | None = None
    train_end: str | None = None
    val_end: str | None = None


class TestMetrics(BaseModel):
    """The checkpoint's errors on its test period."""

    mae: float | None
    rmse: float | None
    mape: float | None
    mase: float | None


class PredictResponse(BaseModel):
    """A forecast with what it came from."""

    prediction: float
    predictions: list[float]
    checkpoint: str
    device: str
    window: int
    horizon: int
    horizon_max: int
    ticker: str | None
    feature: str | None
    data: DataRange
    metrics: TestMetrics
    interval: float | None = None
    lower: list[float] | None = None
    upper: list[float | None] | None = None


class ErrorBody(BaseModel):
    """What went wrong and how to fix it; `errors` lists each invalid field."""

    detail: str
    errors: list[dict[str, Any]] | None = None


Answer = tuple[int, bytes]  # status and JSON body


def _error(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> Answer:
    body: dict[str, Any] = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    return status, json.dumps(body).encode()


def _validation_error(exc: ValidationError) -> Answer:
    # include_input=False: the offending input may be NaN or huge, and JSON cannot carry NaN.
    errors = json.loads(exc.json(include_url=False, include_input=False, include_context=False))
    if any(e["type"] == "json_invalid" for e in errors):
        return _error(400, f"request body is not valid JSON: {errors[0]['msg']}", errors)
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return _error(422, f"{where}: {first['msg']}", errors)


TOO_LARGE = f"request body is over {MAX_BODY_BYTES} bytes; send at most {MAX_VALUES} values"


async def _read_body(scope: dict, receive: Any) -> bytes | None:
    """The request body, or None when it is over MAX_BODY_BYTES (refused before reading it all)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
            return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


# ---------------------------------------------------------------------------------------------- app


class Service(FastAPI):
    """The FastAPI app, with every response timed and counted, and `POST /predict` answered directly.

    `/predict` is the one hot route. It is served here, at the ASGI level, by the same function the
    documented FastAPI route calls, skipping the framework's per-request layers (middleware stack,
    routing, parameter resolution), which cost more than a forecast. Everything else, the documented
    `/predict` included (it answers the same), goes through FastAPI as usual.
    """

    predict_answer: Any = None  # async (body: bytes) -> Answer, set by create_app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        start = time.perf_counter()
        if scope["path"] == "/predict" and scope["method"] == "POST" and self.predict_answer:
            status = await self._predict(scope, receive, send, start)
            record_request("POST", "/predict", status, time.perf_counter() - start)
            return
        status = 500

        async def timed_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (b"x-response-time-ms", _elapsed_ms(start))],
                }
            await send(message)

        try:
            await super().__call__(scope, receive, timed_send)
        finally:
            # Route templates, never raw paths: unknown URLs must not grow the label set.
            route = getattr(scope.get("route"), "path", "unmatched")
            record_request(scope["method"], route, status, time.perf_counter() - start)

    async def _predict(self, scope: dict, receive: Any, send: Any, start: float) -> int:
        """Answer one `POST /predict`; returns the status sent (500 if it failed before sending)."""
        status = 500
        try:
            body = await _read_body(scope, receive)
            status, payload = _error(413, TOO_LARGE) if body is None else await self.predict_answer(body)
        except ClientDisconnect:
            return 499  # nginx's name for it: nothing was sent
        except Exception:  # what Starlette's error middleware does for the other routes
            log.exception("POST /predict failed")
            status, payload = _error(500, "internal server error")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(payload)),
            (b"x-response-time-ms", _elapsed_ms(start)),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        return status


def _elapsed_ms(start: float) -> bytes:
    return b"%.3f" % ((time.perf_counter() - start) * 1e3)


ERRORS = {
    400: {"model": ErrorBody, "description": "Malformed JSON."},
    404: {"model": ErrorBody, "description": "No loaded checkpoint has that name (paths are refused)."},
    413: {"model": ErrorBody, "description": f"Body over {MAX_BODY_BYTES} bytes."},
    422: {
        "model": ErrorBody,
        "description": (
            f"Invalid body: missing/empty values, fewer than the window, more than {MAX_VALUES}, "
            "non-numbers, NaN/Infinity, non-positive prices, unknown device, horizon out of range."
        ),
    },
    503: {"model": ErrorBody, "description": "No checkpoint is loaded."},
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app serving the artifacts of `settings.checkpoints_dir` (default: from the environment)."""
    settings = settings or Settings.from_env()
    # One thread per worker: for one window, thread hand-offs cost more than they save, and workers
    # (not threads) are how this server uses more cores.
    torch.set_num_threads(1)
    registry = Registry(settings.checkpoints_dir)
    inference = InferenceThread()
    report = registry.reload()
    MODELS.set(len(registry.entries))
    sample_process()
    if not registry.entries:
        log.warning("no artifact loaded from %s: %s", settings.checkpoints_dir, report["errors"] or "no *.pt")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = (
            asyncio.create_task(_watch(registry, settings.reload_interval))
            if settings.reload_interval
            else None
        )
        yield
        if task is not None:
            task.cancel()

    app = Service(
        title="closecast",
        version="1",
        summary="Next-close forecasts from the LSTM artifacts in the checkpoints directory.",
        lifespan=lifespan,
    )
    app.state.registry = registry
    app.state.settings = settings

    @app.post(
        "/predict",
        response_model=None,
        responses={200: {"model": PredictResponse, "description": "The forecast."}, **ERRORS},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
            }
        },
    )
    async def predict(request: Request) -> Response:
        """Forecast the next close(s) after `values` with a loaded checkpoint."""
        body = await _read_body(request.scope, request.receive)
        status, payload = _error(413, TOO_LARGE) if body is None else await answer(body)
        return Response(payload, status_code=status, media_type="application/json")

    async def answer(body: bytes) -> Answer:
        """Status and JSON body for one `/predict` request body."""
        try:
            req = PredictRequest.model_validate_json(body)
        except ValidationError as exc:
            return _validation_error(exc)
        if not registry.entries:
            return _error(503, f"no checkpoint is loaded from {str(settings.checkpoints_dir)!r}; train one")
        try:
            entry = registry.resolve(req.checkpoint_path)
        except CheckpointNotFound as exc:
            return _error(404, str(exc))
        try:
            batcher = entry.batcher(req.device, settings.batch_max, inference)
            result = await batcher.predict(req.values, req.horizon, req.interval)
        except InputError as exc:
            return _error(422, str(exc))
        predictions = result["predictions"]
        if not all(map(math.isfinite, predictions)):
            return _error(422, "values are out of range: the forecast is not a finite number")
        if len(result) == 2:  # the common answer, written directly (json.dumps writes floats as repr)
            listed = ", ".join(map(repr, predictions))
            forecast = (
                f'{{"prediction": {predictions[0]!r}, "predictions": [{listed}], '
                f'"device": {batcher.device_json}, "horizon": {len(predictions)}}}'
            )
        else:
            result["device"] = batcher.device
            result["horizon"] = len(predictions)
            try:
                forecast = json.dumps(result, allow_nan=False)
            except ValueError:
                return _error(422, "values are out of range: the interval is not finite")
        # The artifact's part of the answer was serialized once, at load time.
        return 200, (forecast[:-1] + ", " + entry.static_json[1:]).encode()

    app.predict_answer = answer

    @app.get("/health", responses={503: {"description": "No checkpoint is loaded."}})
    async def health() -> JSONResponse:
        """200 with the loaded checkpoint names; 503 when none is loaded."""
        names = registry.names
        body = {"status": "ok" if names else "unavailable", "models": names}
        if not names:
            body["detail"] = (
                f"no checkpoint loaded from {str(settings.checkpoints_dir)!r}; "
                "train one (`make train`) and POST /models/reload"
            )
        return JSONResponse(body, status_code=200 if names else 503)

    @app.get("/models")
    async def models() -> dict[str, Any]:
        """Metadata of every loaded artifact, and the files that could not be loaded."""
        return {
            "checkpoints_dir": str(settings.checkpoints_dir),
            "models": [registry.entries[n].info for n in registry.names],
            "errors": registry.errors,
        }

    @app.post("/models/reload")
    async def reload() -> dict[str, Any]:
        """Load new or changed artifacts from the checkpoints directory without a restart."""
        result = await run_in_threadpool(registry.reload)
        MODELS.set(len(registry.entries))
        return result

    @app.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    async def metrics() -> Response:
        """Prometheus metrics: requests, latency, inference time, CPU and memory."""
        sample_process()
        return Response(metrics_payload(), media_type=CONTENT_TYPE_LATEST)

    return app


async def _watch(registry: Registry, interval: float) -> None:
    """Pick up published artifacts: each worker looks every `interval` seconds (a stat, no reads)."""
    while True:
        await asyncio.sleep(interval)
        try:
            sample_process()
            if await run_in_threadpool(registry.changed):
                await run_in_threadpool(registry.reload)
                MODELS.set(len(registry.entries))
        except Exception:  # the watch must outlive one bad look at the directory
            log.exception("checking %s for new artifacts failed", registry.directory)


def main() -> int:
    """Run uvicorn with HOST, PORT, WORKERS and CHECKPOINTS_DIR from the environment."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers are separate processes; a shared folder lets /metrics add up all of them.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="closecast-metrics-")
    uvicorn.run(
        "closecast.serve:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
