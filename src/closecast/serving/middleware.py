"""ASGI middleware every route passes through: response timing, and limits on reading request bodies."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import HTTPException

Scope = dict[str, Any]


class ResponseTime:
    """Adds `X-Response-Time-ms`: milliseconds from the request's arrival to the start of the answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                elapsed = b"%.3f" % ((time.perf_counter() - start) * 1e3)
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (b"x-response-time-ms", elapsed)],
                }
            await send(message)

        await self.app(scope, receive, timed_send)


class BodyLimits:
    """Bounds how much of a request body is read (413) and how long each part may take to arrive (408).

    The server (uvicorn) times out idle connections but not a body that stops half way; without this a
    client could hold a connection, and a worker's memory, for as long as it likes. The errors are raised
    from `receive`, where the route reads its body, so the app's own exception handlers answer them.
    `per_path` gives routes with larger bodies (a batch) their own limit and message. FastAPI's own
    `max_body_size` (Starlette's body limit) answers 413 in plain text ("Content Too Large") and has no
    timeout; this answers both in the API's JSON error shape, naming the limit and the way out.
    """

    def __init__(
        self,
        app: Any,
        max_bytes: int,
        timeout: float,
        too_large: str,
        per_path: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        self.app, self.timeout = app, timeout
        self.default, self.per_path = (max_bytes, too_large), dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes, refusal = self.per_path.get(scope["path"], self.default)
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        too_large = declared.isdigit() and int(declared) > max_bytes
        size, done = 0, False

        async def limited_receive() -> dict:
            nonlocal size, done
            if done:  # the body is read: later calls wait for a disconnect, which may take any time
                return await receive()
            if too_large:
                raise HTTPException(413, refusal)
            try:
                message = await _within(self.timeout, receive())
            except TimeoutError:
                raise HTTPException(
                    408,
                    f"the request body did not arrive within {self.timeout:g} s; send it whole and promptly",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > max_bytes:
                    raise HTTPException(413, refusal)
                done = not message.get("more_body", False)
            return message

        await self.app(scope, limited_receive, send)


async def _within(seconds: float, awaitable: Any) -> Any:
    """`await awaitable`, or `TimeoutError` after `seconds` (asyncio.timeout, no task, where present)."""
    if not hasattr(asyncio, "timeout"):  # Python 3.10
        return await asyncio.wait_for(awaitable, seconds)
    async with asyncio.timeout(seconds):
        return await awaitable
