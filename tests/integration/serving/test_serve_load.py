"""The live server under a schema fuzzer and a bounded concurrent load: no server errors, flat memory."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from closecast.artifacts.schema import load_artifact
from closecast.inference.forecaster import Forecaster
from tests.helpers.live_server import live_server
from tests.helpers.metrics import sample, scrape_until

pytestmark = pytest.mark.slow

VALUES = [100.0 + 0.5 * i for i in range(40)]


@pytest.fixture(scope="module")
def url(trained_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    checkpoints = tmp_path_factory.mktemp("load") / "checkpoints"
    checkpoints.mkdir()
    shutil.copyfile(trained_artifact, checkpoints / "best.pt")
    with live_server(checkpoints) as base:
        yield base


def server_errors(url: str) -> float:
    return sample(httpx.get(f"{url}/metrics").text, "http_requests_total", status="5xx")


def test_schemathesis_finds_no_server_error_and_no_broken_promise(url: str, tmp_path: Path) -> None:
    # Every check, positive-data acceptance included: the schema states the loaded checkpoint's window
    # and horizon, so a body it calls valid is answered (404 for a name that is not loaded is allowed).
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{url}/openapi.json",
        "--checks=all",
        "--max-examples=150",
        "--seed=7",
        "--generation-database=none",
        "--no-color",
        # A batch of a thousand windows takes a while on a busy machine (the suite runs two test
        # processes): a slow answer is not a broken one.
        "--request-timeout=60",
        f"--report-dir={tmp_path}",
    ]
    # A batch body over its byte limit is refused (413) before it is read, whatever it holds: the schema
    # allows more items of more values than fit in it.
    (tmp_path / "schemathesis.toml").write_text(
        '[[operations]]\ninclude-name = "POST /predict/batch"\n'
        "checks.negative_data_rejection.expected-statuses = "
        '["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]\n'
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(r"(\d+) generated, \1 passed", done.stdout), done.stdout[-2000:]
    assert server_errors(url) == 0


def test_bounded_concurrent_load_has_no_errors_and_flat_memory(url: str) -> None:
    total, concurrency = 1000, 16
    statuses: list[int] = []

    async def run(n: int) -> None:
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
            queue = iter(range(n))

            async def worker() -> None:
                for i in queue:
                    body = {"values": VALUES[i % 10 :], "checkpoint_path": "best" if i % 2 else "best.pt"}
                    r = await client.post("/predict", json=body)
                    statuses.append(r.status_code)

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    def rss() -> int:
        return int(sample(httpx.get(f"{url}/metrics").text, "process_resident_memory_bytes"))

    asyncio.run(run(200))  # warm up: allocator pools, lazy imports
    before = rss()
    statuses.clear()
    asyncio.run(run(total))
    after = rss()
    assert len(statuses) == total and set(statuses) == {200}
    assert server_errors(url) == 0
    assert after - before < 64 * 2**20, f"resident memory grew {(after - before) / 2**20:.1f} MiB under load"


async def at_once(url: str, bodies: list[dict]) -> list[dict]:
    """Each body on a connection of its own, all written before any answer is read (HTTP/1.1, raw)."""
    host, port = url.removeprefix("http://").split(":")
    opened = [await asyncio.open_connection(host, int(port)) for _ in bodies]
    for (_, writer), body in zip(opened, bodies, strict=True):
        data = json.dumps(body).encode()
        head = f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        writer.write(f"{head}Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
    answers = []
    for reader, writer in opened:
        raw = await reader.read()
        writer.close()
        head, _, payload = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), raw[:300]
        answers.append(json.loads(payload))
    return answers


def test_requests_in_hand_at_once_share_network_calls_and_each_gets_its_own_answer(
    url: str, trained_artifact: Path
) -> None:
    forecaster = Forecaster(load_artifact(trained_artifact))
    bodies = [
        {"values": [v * (1 + 0.01 * i) for v in VALUES], **({"quantiles": [0.1, 0.9]} if i % 2 else {})}
        for i in range(16)
    ]
    name = "closecast_coalesced_requests"
    for _ in range(5):  # requests that arrive apart are answered apart; try again until some arrive together
        before = httpx.get(f"{url}/metrics").text
        answers = asyncio.run(at_once(url, bodies))
        after = httpx.get(f"{url}/metrics").text
        requests, calls = (
            sample(after, f"{name}_{k}") - sample(before, f"{name}_{k}") for k in ("sum", "count")
        )
        assert requests == len(bodies)
        if calls < requests:
            break
    assert calls < requests, "no two requests written at once shared a network call"
    for body, answer in zip(bodies, answers, strict=True):
        alone = forecaster.predict(body["values"], quantiles=body.get("quantiles"))
        assert answer["predictions"] == pytest.approx(alone["predictions"], rel=1e-6)
        assert (answer["quantiles"] is None) == (alone.get("quantiles") is None)
        if alone.get("quantiles"):
            for level, prices in alone["quantiles"].items():
                assert answer["quantiles"][level] == pytest.approx(prices, rel=1e-6)


def test_workers_share_one_metrics_view(trained_artifact: Path, tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    shutil.copyfile(trained_artifact, checkpoints / "best.pt")
    loaded = r'closecast_models_loaded\{pid="(\d+)"\}'
    with live_server(checkpoints, WORKERS="2") as base, httpx.Client(base_url=base, timeout=30) as client:
        # /health answers once one worker is up; each worker reports itself when it has loaded.
        deadline = time.monotonic() + 120
        while len(set(re.findall(loaded, client.get("/metrics").text))) < 2:
            assert time.monotonic() < deadline, "the second worker never reported"
            time.sleep(0.5)
        for _ in range(40):
            # A fresh connection each time, so the kernel spreads them over both workers.
            assert httpx.post(f"{base}/predict", json={"values": VALUES}).status_code == 200
        ok = {"handler": "/predict", "method": "POST", "status": "2xx"}
        text = scrape_until(
            lambda: client.get("/metrics").text, lambda t: sample(t, "http_requests_total", **ok) >= 40
        )
    # Counted once, whichever worker answered.
    assert sample(text, "http_requests_total", **ok) == 40
    assert len(set(re.findall(loaded, text))) == 2
