"""Exceptions as JSON answers: every error a client can get has a body `{"detail": ...}`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from closecast.errors import InputError
from closecast.serving.dependencies import NoModelLoaded, refusal_before_body
from closecast.serving.registry import CheckpointNotFound

# The exceptions whose message is the answer, and the status each is answered with.
STATUS = {CheckpointNotFound: 404, InputError: 422, NoModelLoaded: 503}


# What reading a body can answer before the route's dependencies (the API key) have run.
BODY_STATUSES = (408, 413)


async def body_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """401 for a guarded route without the key, else the body's own error (408, 413) or any other."""
    refusal = await refusal_before_body(request) if exc.status_code in BODY_STATUSES else None
    if refusal is not None:  # the body is left unread: the connection closes, as the 408 says
        refusal = HTTPException(
            401, refusal.detail, headers={**(refusal.headers or {}), **(exc.headers or {})}
        )
    return await http_exception_handler(request, refusal or exc)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """401 for a guarded route without the key; 400 for a body that is not JSON, else 422 naming the
    first invalid field."""
    refusal: HTTPException | None = await refusal_before_body(request)
    if refusal is not None:
        return await http_exception_handler(request, refusal)
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


def message_error(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """A handler answering `status` with the exception's message as `detail`."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handler


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """500 with a JSON body like every other error (Starlette logs the exception)."""
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def add_error_handlers(app: FastAPI) -> None:
    """Register the handlers: validation (401/400/422), HTTP errors (401 before a body's 408/413), the
    `STATUS` exceptions, anything else (500)."""
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, body_error)  # type: ignore[arg-type]
    for cls, status in STATUS.items():
        app.add_exception_handler(cls, message_error(status))
    app.add_exception_handler(Exception, internal_error)
