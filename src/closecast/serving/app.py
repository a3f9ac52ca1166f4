"""The FastAPI app, wired: settings, the registry (loaded in `lifespan`), middleware, error handlers,
routers, Prometheus.

Every route passes through the same middleware (timing, body limits, HTTP metrics) and, when API_KEY is
set, the same key check on /predict, /models and /models/reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import torch
from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from prometheus_fastapi_instrumentator import Instrumentator

from closecast.serving.coalescing import Coalescer
from closecast.serving.dependencies import require_api_key
from closecast.serving.docs_assets import add_offline_docs
from closecast.serving.error_handlers import add_error_handlers
from closecast.serving.metrics import HTTP
from closecast.serving.middleware import BodyLimits, ResponseTime
from closecast.serving.openapi import narrow
from closecast.serving.page import page_router
from closecast.serving.registry import Registry
from closecast.serving.routes import health_router, models_router, predict_router, reload_models
from closecast.serving.schemas import (
    ERRORS,
    MAX_BATCH_BODY_BYTES,
    MAX_BATCH_ITEMS,
    MAX_BODY_BYTES,
    MAX_VALUES,
)
from closecast.serving.settings import Settings

log = logging.getLogger("closecast.serve")

TOO_LARGE = f"request body is over {MAX_BODY_BYTES} bytes; send at most {MAX_VALUES} values"
BATCH_TOO_LARGE = (
    f"request body is over {MAX_BATCH_BODY_BYTES} bytes; send at most {MAX_BATCH_ITEMS} items of one "
    "window each (only the last window of values is read), or split the batch"
)


async def watch(app: FastAPI, interval: float) -> None:
    """Pick up published artifacts: every `interval` seconds, a stat of the directory."""
    registry: Registry = app.state.registry
    while True:
        await asyncio.sleep(interval)
        try:
            if await run_in_threadpool(registry.changed):
                await reload_models(app)
        except Exception:  # the watch must outlive one bad look at the directory
            log.exception("checking %s for new artifacts failed", registry.directory)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load (and so warm) the artifacts, then watch the directory while the app serves."""
    # One thread per worker: for one window, thread hand-offs cost more than they save, and workers
    # (not threads) are how this server uses more cores.
    torch.set_num_threads(1)
    registry: Registry = app.state.registry
    report = await reload_models(app)
    if not registry.entries:
        log.warning("no artifact loaded from %s: %s", registry.directory, report["errors"] or "no *.pt")
    interval = app.state.settings.reload_interval
    task = asyncio.create_task(watch(app, interval)) if interval else None
    yield
    if task is not None:
        task.cancel()


def narrowed_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The generated schema, narrowed to what every loaded checkpoint accepts (it changes on reload)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            narrow(original(), list(app.state.registry.entries.values()))
        return app.openapi_schema

    return openapi


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app serving the artifacts of `settings.checkpoints_dir` (default settings: the environment)."""
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="closecast",
        version="1",
        summary="Next-close forecasts from the LSTM artifacts in the checkpoints directory.",
        lifespan=lifespan,
        docs_url=None,  # served offline by `add_offline_docs`, as is /redoc
        redoc_url=None,
    )
    app.state.registry, app.state.settings = Registry(settings.checkpoints_dir), settings
    app.state.coalescer = Coalescer(settings.coalesce, max_items=MAX_BATCH_ITEMS)
    app.add_middleware(
        BodyLimits,
        max_bytes=MAX_BODY_BYTES,
        timeout=settings.body_timeout,
        too_large=TOO_LARGE,
        per_path={"/predict/batch": (MAX_BATCH_BODY_BYTES, BATCH_TOO_LARGE)},
    )
    # The two conventional HTTP metrics (`closecast.serving.metrics.HTTP`); the library's default set adds
    # size histograms nobody here reads, at a cost on every request.
    instrumentator = Instrumentator(excluded_handlers=["/metrics"])
    instrumentator.add(*HTTP)
    instrumentator.instrument(app)
    app.add_middleware(ResponseTime)
    app.openapi = narrowed_openapi(app)  # type: ignore[method-assign]
    add_error_handlers(app)
    # Without API_KEY no route carries the check, so the schema offers no login either.
    guarded = [Depends(require_api_key)] if settings.api_key else []
    unauthorized = {401: ERRORS[401]} if guarded else None  # the schema states the 401 of every guarded route
    app.include_router(predict_router, dependencies=guarded, responses=unauthorized)
    app.include_router(health_router)
    app.include_router(models_router, dependencies=guarded, responses=unauthorized)
    app.include_router(page_router, dependencies=guarded, responses=unauthorized)  # what /models shows
    add_offline_docs(app)
    routes = [*predict_router.routes, *models_router.routes, *page_router.routes]
    app.state.guarded_routes = routes if guarded else []
    # Added last: the router and the metrics middleware both try the routes in order, per request.
    instrumentator.expose(
        app,
        tags=["operations"],
        response_class=PlainTextResponse,  # what the schema documents: Prometheus' text format
        summary="Prometheus metrics: HTTP requests, latency, inference time per checkpoint, process",
    )
    return app
