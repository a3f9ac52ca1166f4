"""What the routes ask FastAPI for: the API-key check, the registry, and what a `/predict` body names.

All are `async def`, so FastAPI runs them on the event loop, as the routes, with no thread hand-off.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from closecast.inference.forecaster import Forecaster
from closecast.serving.registry import WHERE, Entry, Registry
from closecast.serving.schemas import BatchRequest, PredictRequest


class NoModelLoaded(LookupError):
    """The checkpoints directory holds no loadable artifact."""


BEARER = HTTPBearer(auto_error=False, description="The server's API_KEY.")
# Module-level, so FastAPI can resolve the dependencies' (postponed) annotations.
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def key_refusal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> HTTPException | None:
    """The 401 for a request without `Authorization: Bearer <API_KEY>`, or None when its key is right."""
    expected = (request.app.state.settings.api_key or "").encode()
    given = credentials.credentials.encode() if credentials else b""
    if expected and hmac.compare_digest(given, expected):
        return None
    return HTTPException(
        401,
        "missing or wrong API key: send the header `Authorization: Bearer <API_KEY>`",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def require_api_key(request: Request, credentials: Credentials) -> None:
    """Refuse a request without `Authorization: Bearer <API_KEY>` (401); added only when API_KEY is set."""
    refusal = key_refusal(request, credentials)
    if refusal is not None:
        raise refusal


async def refusal_before_body(request: Request) -> HTTPException | None:
    """The 401 a guarded route answers before its body is read: FastAPI reads (and may refuse) a body
    before it runs the route's dependencies, and a client without the key learns nothing of its body."""
    if request.scope.get("route") not in request.app.state.guarded_routes:
        return None
    return key_refusal(request, await BEARER(request))


async def get_registry(request: Request) -> Registry:
    """The app's registry of loaded artifacts (filled in `lifespan`, swapped on reload)."""
    return request.app.state.registry


LoadedRegistry = Annotated[Registry, Depends(get_registry)]


@dataclass(frozen=True)
class PredictTarget:
    """One `/predict` body, the loaded checkpoint it names and that checkpoint's forecaster on its device."""

    body: PredictRequest
    entry: Entry
    forecaster: Forecaster


@dataclass(frozen=True)
class BatchTarget:
    """A `/predict/batch` body, the loaded checkpoint it names and that checkpoint's forecaster."""

    body: BatchRequest
    entry: Entry
    forecaster: Forecaster


async def resolve_target(request: Request, checkpoint_path: str, device: str) -> tuple[Entry, Forecaster]:
    """The entry `checkpoint_path` names (503, 404) and its forecaster on `device` (422)."""
    # The registry is read directly rather than as a sub-dependency, which would be one more solving
    # step on every request.
    registry = await get_registry(request)
    if not registry.entries:
        raise NoModelLoaded(f"no checkpoint is loaded from {WHERE}; train one (`make train`)")
    entry = registry.resolve(checkpoint_path)
    return entry, entry.forecaster(device)


async def get_predict_target(body: PredictRequest, request: Request) -> PredictTarget:
    """The `/predict` body with the entry and forecaster it names."""
    # The body is declared here only: FastAPI validates a body, and reports its errors, once for every
    # dependency declaring it, so the route takes it from here.
    return PredictTarget(body, *await resolve_target(request, body.checkpoint_path, body.device))


async def get_batch_target(body: BatchRequest, request: Request) -> BatchTarget:
    """The `/predict/batch` body with the entry and forecaster it names."""
    return BatchTarget(body, *await resolve_target(request, body.checkpoint_path, body.device))


Target = Annotated[PredictTarget, Depends(get_predict_target)]
Batch = Annotated[BatchTarget, Depends(get_batch_target)]
