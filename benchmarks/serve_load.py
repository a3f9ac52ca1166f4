"""Load for the serving benchmark: each server in its own process on a loopback port, a fixed number of
requests at a fixed concurrency from another process (wrk when installed, else `python -m
benchmarks.serve_load URL --requests N --concurrency C --body FILE`), alternating rounds, memory sampled
under load. Those processes run in a temporary folder, so they get the repository root on PYTHONPATH."""

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child_env() -> dict[str, str]:
    """This process's environment with the repository root first on PYTHONPATH (`benchmarks.…` resolves)."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def free_port() -> int:
    """A loopback TCP port free at the time of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One server process on a loopback port, with its resident memory sampled while loaded."""

    def __init__(self, name: str, workdir: Path, workers: int) -> None:
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = child_env()
        if name.startswith("closecast"):
            env.update(
                # `closecast-alone`: every request answered by a network call of its own.
                COALESCE="false" if name == "closecast-alone" else "true",
                HOST="127.0.0.1",
                PORT=str(self.port),
                WORKERS=str(workers),
                CHECKPOINTS_DIR=str(workdir / "checkpoints"),
                RELOAD_INTERVAL="0",
            )
            command = [sys.executable, "-m", "closecast.serve"]
        else:
            command = [sys.executable, "-m", "benchmarks.serve_apps", name, str(self.port), str(workers)]
        self.log = (workdir / f"{name}.log").open("w+")
        self.proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"{self.name} server exited:\n{self.log.read()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} server not ready after {timeout}s")
            time.sleep(0.2)

    def rss(self) -> int:
        """Resident memory of the server and its worker processes, bytes."""
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs if p.is_running())
        except psutil.Error:
            return 0

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and its worker processes."""
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            times = [p.cpu_times() for p in (root, *root.children(recursive=True))]
            return sum(t.user + t.system for t in times)
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


WRK_SCRIPT = """
-- A fixed number of requests: at the limit, stop this thread and interrupt wrk's timer, so the reported
-- duration ends with the last response (wrk alone only runs for a fixed time).
local ffi = require("ffi")
ffi.cdef[[ int getpid(void); int kill(int pid, int sig); ]]
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
local limit, count = {limit}, 0
response = function(status, headers, body)
  count = count + 1
  if count == limit then
    ffi.C.kill(ffi.C.getpid(), 2)
    wrk.thread:stop()
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nRESULT {{"requests": %d, "seconds": %f, "p50_ms": %f, "p99_ms": %f, ' ..
    '"errors": %d}}\\n', summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, e.status + e.connect + e.read + e.write + e.timeout))
end
"""


def drive(url: str, body: bytes, requests: int, concurrency: int, workdir: Path, generator: str) -> dict:
    """Send `requests` POSTs at `concurrency` from a separate process; req/s, p50, p99, errors."""
    if generator == "wrk" or (generator == "auto" and shutil.which("wrk")):
        script = workdir / "post.lua"
        script.write_text(WRK_SCRIPT.format(body=body.decode(), limit=requests))
        command = ["wrk", "-t1", f"-c{concurrency}", "-d600s", "-s", str(script), f"{url}/predict"]
        tool = "wrk (1 thread)"
    else:
        (workdir / "body.json").write_bytes(body)
        command = [sys.executable, "-m", "benchmarks.serve_load", f"{url}/predict"]
        command += ["--requests", str(requests), "--concurrency", str(concurrency)]
        command += ["--body", str(workdir / "body.json")]
        tool = "python-asyncio"
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=child_env())
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(
            f"load generator failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}"
        )
    result = json.loads(line[len("RESULT ") :])
    result["req_per_s"] = result["requests"] / result["seconds"]
    result["tool"] = tool
    return result


def overheads(cpu_ms: float, served_ms: float, inproc_ms: float) -> dict[str, float]:
    """The server's CPU per request beyond the forecast (`cpu_ms` less the forecast's mean time inside the
    loaded server, `served_ms`), over that forecast time and over the forecast timed alone (`inproc_ms`)."""
    beyond = cpu_ms - served_ms
    return {
        "overhead_over_forecast": beyond / served_ms,
        "overhead_over_inproc": (cpu_ms - inproc_ms) / inproc_ms,
    }


def served_forecast(url: str) -> dict[str, float]:
    """From the running closecast server's own /metrics: the forecast time inside it per /predict
    request answered (its network calls' time over the requests they answered) and the requests a call
    answered on average."""
    import re

    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
        text = r.read().decode()

    def total(name: str) -> float:
        return sum(map(float, re.findall(rf"^{name}{{.*}} (\S+)$", text, re.M)))

    requests, calls = total("closecast_coalesced_requests_sum"), total("closecast_coalesced_requests_count")
    seconds = total("closecast_inference_seconds_sum")
    nan = float("nan")
    return {
        "served_inference_ms": seconds / requests * 1e3 if requests else nan,
        "requests_per_call": requests / calls if calls else nan,
    }


async def _client(url: str, body: bytes, requests: int, concurrency: int) -> dict:
    """A keep-alive HTTP/1.1 client small enough not to be the bottleneck."""
    host, port_path = url.removeprefix("http://").split(":", 1)
    port, path = port_path.split("/", 1)
    request = (
        f"POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    errors = 0
    remaining = iter(range(requests))

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        for _ in remaining:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(h.split(b":", 1)[1])
                for h in head.split(b"\r\n")
                if h.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            errors += status >= 400
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3  # noqa: E731
    return {
        "requests": len(latencies),
        "seconds": seconds,
        "p50_ms": pick(0.5),
        "p99_ms": pick(0.99),
        "errors": errors,
    }


def measure_load(servers: dict[str, Server], body: bytes, args: argparse.Namespace, workdir: Path) -> dict:
    """Alternating rounds over the servers; medians of each figure, and peak memory under load."""
    runs: dict[str, list[dict]] = {name: [] for name in servers}
    for server in servers.values():  # warm up: first-request imports, allocator pools
        drive(server.url, body, max(10, args.requests // 20), args.concurrency, workdir, args.load_generator)
    for _ in range(args.rounds):
        for name, server in servers.items():
            before = server.rss()
            peak = [before]
            stop = threading.Event()

            def sample(server: Server = server, peak: list[int] = peak, stop: threading.Event = stop) -> None:
                while not stop.wait(0.05):
                    peak[0] = max(peak[0], server.rss())

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            cpu = server.cpu_seconds()
            result = drive(server.url, body, args.requests, args.concurrency, workdir, args.load_generator)
            # Server CPU per answer: unlike req/s, it hardly moves when other work shares the cores.
            result["cpu_ms_per_request"] = (server.cpu_seconds() - cpu) / result["requests"] * 1e3
            stop.set()
            sampler.join()
            result.update(
                rss_before_mib=before / 2**20,
                rss_peak_mib=peak[0] / 2**20,
                rss_after_mib=server.rss() / 2**20,
            )
            runs[name].append(result)
    summary = {}
    for name, results in runs.items():
        summary[name] = {
            key: statistics.median(r[key] for r in results)
            for key in ("req_per_s", "p50_ms", "p99_ms", "cpu_ms_per_request")
        }
        summary[name].update(
            errors=sum(r["errors"] for r in results),
            requests=sum(r["requests"] for r in results),
            rss_peak_mib=max(r["rss_peak_mib"] for r in results),
            rss_first_mib=results[0]["rss_before_mib"],
            rss_last_mib=results[-1]["rss_after_mib"],
            tool=results[0]["tool"],
            rounds=[round(r["req_per_s"], 1) for r in results],
        )
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="POST one body to URL: RESULT {json} on the last line")
    parser.add_argument("url")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True)
    args = parser.parse_args()
    result = asyncio.run(_client(args.url, args.body.read_bytes(), args.requests, args.concurrency))
    print("RESULT " + json.dumps(result))
