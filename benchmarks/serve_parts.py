"""Where a /predict request's time goes: the app driven in-process through ASGI, with parts taken away.

    python -m benchmarks serve-parts [--requests 3000] [--rounds 5] [--update-docs]   # from the repo root

No sockets and no uvicorn: each variant gets the same request through its ASGI interface, in alternating
rounds (medians). A variant differs from the full app by one part: closecast's own middleware (timing,
body limits), the HTTP metrics middleware (prometheus-fastapi-instrumentator), or the forecast (replaced by
a fixed answer). The bare app is `serve_apps.py`'s: the same kind of route and request body, no forecast.
Only for measuring: the parts are taken away by patching, never in the server.
"""

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

from benchmarks import document, serve_apps


async def per_request_ms(app, body: bytes, requests: int) -> float:
    """Milliseconds per POST /predict sent straight to the ASGI app (after its lifespan started)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    request = {"type": "http.request", "body": body, "more_body": False}
    statuses = []

    async def receive() -> dict:
        return request

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    start = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope, state={}), receive, send)
    elapsed = time.perf_counter() - start
    if set(statuses) != {200}:
        raise RuntimeError(f"the app answered {sorted(set(statuses))}, not only 200")
    return elapsed / requests * 1e3


def variants(checkpoints: Path) -> dict:
    """Name → a function building that app (with its parts patched away while it is built)."""
    from prometheus_fastapi_instrumentator import Instrumentator

    from closecast.serving import app as serving
    from closecast.serving.settings import Settings

    settings = Settings(CHECKPOINTS_DIR=checkpoints, RELOAD_INTERVAL=0)
    add = serving.FastAPI.add_middleware

    def without_own_middleware(self, cls, **kwargs):
        if cls not in (serving.BodyLimits, serving.ResponseTime):
            add(self, cls, **kwargs)

    def build(*patches):
        def make():
            with contextlib.ExitStack() as stack:
                for patch in patches:
                    stack.enter_context(patch)
                return serving.create_app(settings)

        return make

    return {
        "bare route (no forecast)": serve_apps.bare_app,
        "closecast": build(),
        "closecast without its own middleware": build(
            mock.patch.object(serving.FastAPI, "add_middleware", without_own_middleware)
        ),
        "closecast without the HTTP metrics middleware": build(
            mock.patch.object(Instrumentator, "instrument", lambda self, app, **kw: self)
        ),
    }


async def measure(args: argparse.Namespace, checkpoints: Path, body: bytes) -> dict[str, float]:
    from closecast.inference.forecaster import Forecaster

    apps = {}
    for name, make in variants(checkpoints).items():
        apps[name] = make()
    fixed = mock.patch.object(
        Forecaster, "predict", lambda self, *a, **k: {"prediction": 1.0, "predictions": [1.0]}
    )
    times: dict[str, list[float]] = {
        name: [] for name in [*apps, "closecast, forecast replaced by a fixed answer"]
    }
    async with contextlib.AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        for app in apps.values():  # warm up
            await per_request_ms(app, body, max(50, args.requests // 10))
        for _ in range(args.rounds):
            for name, app in apps.items():
                times[name].append(await per_request_ms(app, body, args.requests))
            with fixed:
                times["closecast, forecast replaced by a fixed answer"].append(
                    await per_request_ms(apps["closecast"], body, args.requests)
                )
    return {name: statistics.median(v) for name, v in times.items()}


def markdown(result: dict[str, float], command: str) -> str:
    full = result["closecast"]
    lines = [
        "### Where the time goes (`python -m benchmarks serve-parts`)",
        "",
        document.machine_line(document.machine()),
        f"Command: `{command}`. The app driven in-process through ASGI (no sockets, no uvicorn); "
        "each row takes one part away; medians of alternating rounds.",
        "",
        "| app | ms per request | part's share of the full app (ms) |",
        "|---|---:|---:|",
    ]
    for name, ms in result.items():
        share = "" if name in ("closecast", "bare route (no forecast)") else f"{full - ms:.3f}"
        lines.append(f"| {name} | {ms:.3f} | {share} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Measure each variant; print the table (and rewrite its docs section with --update-docs)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks serve-parts", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=3000, help="requests per variant per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (medians reported)")
    parser.add_argument(
        "--update-docs", action="store_true", help="rewrite its section of docs/BENCHMARKS.md"
    )
    args = parser.parse_args(argv)
    import torch

    from benchmarks.serve_batch import default_artifact

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench-serve-parts-") as tmp:
        checkpoints = Path(tmp) / "checkpoints"
        checkpoints.mkdir()
        default_artifact(checkpoints / "best.pt")
        values = [round(100.0 + 5.0 * ((i * 7919) % 97) / 97, 4) for i in range(60)]
        body = json.dumps({"values": values, "checkpoint_path": "best.pt", "device": "cpu"}).encode()
        result = asyncio.run(measure(args, checkpoints, body))
    command = "python -m benchmarks serve-parts" + "".join(f" {a}" for a in argv if a != "--update-docs")
    text = markdown(result, command)
    if args.update_docs:
        print(f"updated {document.update_section('serve-parts', text)}")
    print(text)
    return 0
