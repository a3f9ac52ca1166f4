"""The FastAPI app: artifacts loaded in `lifespan`, a plain `POST /predict` route, errors as handlers.

Every route passes through the same middleware (timing, body limits, HTTP metrics) and, when API_KEY is
set, the same key check on /predict, /models and /models/reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import torch
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as http_metrics

from closecast.errors import InputError
from closecast.serving.metrics import MODELS
from closecast.serving.middleware import BodyLimits, ResponseTime
from closecast.serving.registry import CheckpointNotFound, Registry
from closecast.serving.schemas import ERRORS, MAX_BODY_BYTES, MAX_VALUES, PredictRequest, PredictResponse
from closecast.serving.settings import Settings

log = logging.getLogger("closecast.serve")

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
TOO_LARGE = f"request body is over {MAX_BODY_BYTES} bytes; send at most {MAX_VALUES} values"


class NoModelLoaded(LookupError):
    """The checkpoints directory holds no loadable artifact."""


# Module-level, so FastAPI can resolve the dependency's (postponed) annotation.
Credentials = Annotated[
    HTTPAuthorizationCredentials | None,
    Depends(HTTPBearer(auto_error=False, description="The server's API_KEY.")),
]


def _key_check(api_key: str) -> Any:
    """A dependency that refuses requests without `Authorization: Bearer <api_key>` (401)."""
    expected = api_key.encode()

    async def require_api_key(credentials: Credentials) -> None:
        given = credentials.credentials.encode() if credentials else b""
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                401,
                "missing or wrong API key: send the header `Authorization: Bearer <API_KEY>`",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return require_api_key


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Only type, place and message: the offending input may be NaN or huge, and JSON cannot carry NaN.
    errors = [
        {"type": e["type"], "loc": [p for p in e["loc"] if p != "body"], "msg": e["msg"]}
        for e in exc.errors()
    ]
    first = errors[0]
    if first["type"] == "json_invalid" or (first["type"] == "missing" and not first["loc"]):
        detail = f"request body is not valid JSON: {first['msg'] if first['loc'] else 'empty body'}"
        return JSONResponse({"detail": detail, "errors": errors}, status_code=400)
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return JSONResponse({"detail": f"{where}: {first['msg']}", "errors": errors}, status_code=422)


def _openapi(app: FastAPI, registry: Registry) -> Any:
    """The generated schema, narrowed to what every loaded checkpoint accepts (it changes on reload)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            props = schema["components"]["schemas"]["PredictRequest"]["properties"]
            entries = list(registry.entries.values())
            if entries:
                props["values"]["minItems"] = max(e.context["window"] for e in entries)
                horizon = props["horizon"]["anyOf"][0]
                horizon["maximum"] = min(e.context["horizon_max"] for e in entries)
            devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
            props["device"]["enum"] = devices + (["cuda"] if len(devices) > 1 else [])
        return app.openapi_schema

    return openapi


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app serving the artifacts of `settings.checkpoints_dir` (default settings: the environment)."""
    settings = settings or Settings.from_env()
    registry = Registry(settings.checkpoints_dir)

    async def reload() -> dict[str, Any]:
        report = await run_in_threadpool(registry.reload)
        MODELS.set(len(registry.entries))
        app.openapi_schema = None  # the schema states the loaded checkpoints' limits
        return report

    async def watch() -> None:
        """Pick up published artifacts: every RELOAD_INTERVAL seconds, a stat of the directory."""
        while True:
            await asyncio.sleep(settings.reload_interval)
            try:
                if await run_in_threadpool(registry.changed):
                    await reload()
            except Exception:  # the watch must outlive one bad look at the directory
                log.exception("checking %s for new artifacts failed", registry.directory)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One thread per worker: for one window, thread hand-offs cost more than they save, and workers
        # (not threads) are how this server uses more cores.
        torch.set_num_threads(1)
        report = await reload()
        if not registry.entries:
            log.warning("no artifact loaded from %s: %s", registry.directory, report["errors"] or "no *.pt")
        task = asyncio.create_task(watch()) if settings.reload_interval else None
        yield
        if task is not None:
            task.cancel()

    app = FastAPI(
        title="closecast",
        version="1",
        summary="Next-close forecasts from the LSTM artifacts in the checkpoints directory.",
        lifespan=lifespan,
    )
    app.state.registry, app.state.settings = registry, settings
    app.add_middleware(
        BodyLimits, max_bytes=MAX_BODY_BYTES, timeout=settings.body_timeout, too_large=TOO_LARGE
    )
    # The two conventional HTTP metrics (requests by handler/method/grouped status, and latency); the
    # library's default set adds size histograms nobody here reads, at a cost on every request.
    instrumentator = Instrumentator(excluded_handlers=["/metrics"])
    instrumentator.add(http_metrics.requests(), http_metrics.latency(buckets=LATENCY_BUCKETS))
    instrumentator.instrument(app)
    app.add_middleware(ResponseTime)
    app.openapi = _openapi(app, registry)  # type: ignore[method-assign]
    guarded = [Depends(_key_check(settings.api_key))] if settings.api_key else []

    def error(status: int) -> Any:
        async def handler(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=status)

        return handler

    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(CheckpointNotFound, error(404))
    app.add_exception_handler(InputError, error(422))
    app.add_exception_handler(NoModelLoaded, error(503))

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the exception; the client gets a JSON body like every other error.
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    app.add_exception_handler(Exception, internal_error)

    @app.post("/predict", response_model=PredictResponse, responses=ERRORS, dependencies=guarded)
    async def predict(body: PredictRequest) -> dict[str, Any]:
        """Forecast the next close(s) after `values` with a loaded checkpoint."""
        if not registry.entries:
            raise NoModelLoaded(f"no checkpoint is loaded from {str(registry.directory)!r}; train one")
        entry = registry.resolve(body.checkpoint_path)
        forecaster = entry.forecaster(body.device)
        # On the event loop: one window takes a fraction of a millisecond, less than a hand-off to a
        # thread; more workers (WORKERS) are how the server uses more cores.
        start = time.perf_counter()
        result = forecaster.predict(
            body.values, body.horizon, body.interval, body.quantiles, high=body.high, low=body.low
        )
        entry.inference_seconds.observe(time.perf_counter() - start)
        if not all(map(math.isfinite, result["predictions"] + result.get("lower", []))):
            raise InputError("values are out of range: the forecast is not a finite number")
        horizon = len(result["predictions"])
        return {**result, **entry.context, "device": str(forecaster.device), "horizon": horizon}

    @app.get("/health", tags=["operations"], responses={503: {"description": "No checkpoint is loaded."}})
    async def health() -> JSONResponse:
        """200 with the loaded checkpoint names; 503 when none is loaded."""
        names = registry.names
        body: dict[str, Any] = {"status": "ok" if names else "unavailable", "models": names}
        if not names:
            body["detail"] = (
                f"no checkpoint loaded from {str(registry.directory)!r}; "
                "train one (`make train`) and POST /models/reload"
            )
        return JSONResponse(body, status_code=200 if names else 503)

    @app.get("/models", tags=["operations"], dependencies=guarded)
    async def models() -> dict[str, Any]:
        """What each loaded artifact is (no training config, paths or URLs), and the files refused."""
        return {"models": [registry.entries[n].info for n in registry.names], "errors": registry.errors}

    @app.post("/models/reload", tags=["operations"], dependencies=guarded)
    async def models_reload() -> dict[str, Any]:
        """Load new or changed artifacts from the checkpoints directory without a restart."""
        return await reload()

    # Added last: the router and the metrics middleware both try the routes in order, per request.
    instrumentator.expose(
        app,
        tags=["operations"],
        response_class=PlainTextResponse,  # what the schema documents: Prometheus' text format
        summary="Prometheus metrics: HTTP requests, latency, inference time per checkpoint, process",
    )
    return app
