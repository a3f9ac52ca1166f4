"""The routes, one plain function each, in routers grouped by who may call them.

`app.py` includes `predict_router` and `models_router` behind the API key when API_KEY is set;
`health_router` stays open, for probes and the container's health check.
"""

from __future__ import annotations

import gc
import math
import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from closecast.errors import InputError
from closecast.inference.forecaster import Item
from closecast.serving.dependencies import Batch, LoadedRegistry, Target
from closecast.serving.metrics import MODELS
from closecast.serving.registry import WHERE
from closecast.serving.responses import BatchResponse, ModelsResponse, PredictResponse
from closecast.serving.schemas import BATCH_ERRORS, ERRORS

predict_router = APIRouter()
health_router = APIRouter(tags=["operations"])
models_router = APIRouter(tags=["operations"])


async def reload_models(app: FastAPI) -> dict[str, Any]:
    """Reload `app`'s registry (in a thread: it reads files) and what depends on it; the reload report."""
    registry = app.state.registry
    report = await run_in_threadpool(registry.reload)
    freeze_heap()
    MODELS.set(len(registry.entries))
    app.openapi_schema = None  # the schema states the loaded checkpoints' limits
    return report


@predict_router.post("/predict", response_model=PredictResponse, responses=ERRORS)
async def predict(target: Target, request: Request) -> dict[str, Any]:
    """Forecast the next close(s) after `values` with a loaded checkpoint."""
    body, entry, forecaster = target.body, target.entry, target.forecaster
    options = forecaster.options(body.horizon, body.interval, body.quantiles)
    item = Item(body.values, body.series, body.normalize, body.high, body.low)
    (prepared,) = forecaster.prepare_items([item], options.spread, label=None)  # a bad window: 422, alone
    # On the event loop, with the windows of the requests in hand (`closecast.serving.coalescing`): one
    # window takes a fraction of a millisecond, less than a hand-off to a thread; more workers (WORKERS)
    # are how the server uses more cores.
    coalescer = request.app.state.coalescer
    result = await coalescer.answer(forecaster, prepared, options, entry.inference_seconds, entry.coalesced)
    if not finite(result):
        raise InputError("values are out of range: the forecast is not a finite number")
    horizon = len(result["predictions"])
    context = entry.series_context[result["series"]]
    return {**result, **entry.context, **context, "device": str(forecaster.device), "horizon": horizon}


@predict_router.post("/predict/batch", response_model=BatchResponse, responses=BATCH_ERRORS)
async def predict_batch(target: Batch) -> dict[str, Any]:
    """Forecast many series' next close(s) at once: every item's window through the network in one call."""
    body, entry, forecaster = target.body, target.entry, target.forecaster
    items = [Item(i.values, i.series, i.normalize, i.high, i.low) for i in body.items]
    start = time.perf_counter()
    results = forecaster.predict_items(items, body.horizon, body.interval, body.quantiles)
    entry.inference_seconds.observe(time.perf_counter() - start)
    for i, result in enumerate(results):
        if not finite(result):
            raise InputError(f"items[{i}]: values are out of range: the forecast is not a finite number")
    horizon = len(results[0]["predictions"])
    return {**entry.context, "device": str(forecaster.device), "horizon": horizon, "items": results}


def freeze_heap() -> None:
    """Collect what a reload let go, then leave every object alive now (the app, its libraries, the loaded
    artifacts) out of later garbage collections (`gc.freeze`). A full collection walks every object of
    the process with the event loop stopped, long enough to show in the slowest answers of a busy server;
    after this one walks only what requests have made since."""
    gc.unfreeze()  # the artifacts a reload dropped become collectable again
    gc.collect()
    gc.freeze()


def finite(result: dict[str, Any]) -> bool:
    """Whether a forecast's predictions and lower bounds are finite numbers."""
    return all(map(math.isfinite, result["predictions"] + result.get("lower", [])))


@health_router.get("/health", responses={503: {"description": "No checkpoint is loaded."}})
async def health(registry: LoadedRegistry) -> JSONResponse:
    """200 `ok` with the loaded checkpoint names (`degraded` when the newest file failed to load, with
    the files refused under `errors`); 503 when none is loaded."""
    names = registry.names
    status = "degraded" if registry.degraded else "ok"
    body: dict[str, Any] = {"status": status if names else "unavailable", "models": names}
    if registry.degraded:
        body["detail"] = f"the newest file is not served: {registry.degraded}"
    if not names:
        body["detail"] = (
            f"no checkpoint loaded from {WHERE}; train one (`make train`) and POST /models/reload"
        )
    body["errors"] = registry.errors
    return JSONResponse(body, status_code=200 if names else 503)


@models_router.get("/models", response_model=ModelsResponse)
async def models(registry: LoadedRegistry) -> dict[str, Any]:
    """What each loaded artifact is (no training config, paths or URLs), and the files refused."""
    return {"models": [registry.entries[n].info for n in registry.names], "errors": registry.errors}


@models_router.post("/models/reload")
async def models_reload(request: Request) -> dict[str, Any]:
    """Load new or changed artifacts from the checkpoints directory without a restart."""
    return await reload_models(request.app)
