"""Serving throughput and latency, side by side: closecast's server against a bare endpoint and the capstone.

    python -m benchmarks serve [--requests 2000] [--concurrency 8] [--rounds 3] [--workers 1]
                               [--batch 500] [--batch-requests 50]
                               [--artifact checkpoints/best.pt] [--json PATH] [--update-docs] [--tiny]

Run from the repository root (`python -m` puts it on `sys.path`); the servers it starts get the root on
their PYTHONPATH, since they run in a temporary folder.

Four servers, each started here on a free loopback port with the same number of uvicorn workers:
  bare       a FastAPI route with closecast's own pydantic request body (`PredictRequest`) that answers
             a constant: the same kind of route, without the forecast;
  closecast  `python -m closecast.serve`, exactly as `make serve` runs it;
  closecast-alone  the same with COALESCE=false: a network call per request, none shared;
  capstone   the course capstone closecast replaces: `torch.load(weights_only=False)`, a build per request.
Each gets the same fixed number of requests at a fixed concurrency from a separate process (wrk when
installed, else the asyncio client of `serve_load.py`), in alternating rounds; the figures are medians.
The bare and capstone servers are in `serve_apps.py`.
Then the in-process latency of one forecast of the served artifact (`checkpoints/best.pt`, what `make
train` publishes; without one, an artifact of the default shape), and of the module's forward alone, to
show where the time of a forecast goes. Last, the batch route: one
`POST /predict/batch` of `--batch` series' windows (a pooled artifact of the default shape with that many
series, `serve_batch.py`), one request at a time, beside the same batch in-process.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks import document
from benchmarks.serve_batch import (
    PUBLISHED,
    batch_items,
    default_artifact,
    measure_batch,
    measure_batch_inproc,
    place_artifact,
)
from benchmarks.serve_load import Server, measure_load, overheads, served_forecast
from benchmarks.serve_table import SERVERS, TARGETS, markdown
from benchmarks.timing import call_times, percentile_ms

ROOT = Path(__file__).resolve().parents[1]


def measure_inproc(artifact: Path, iterations: int) -> dict:
    """p50/p99 of one forecast in this process (the server's call), and of the plain module forward."""
    import numpy as np
    import torch

    from closecast.artifacts.schema import load_artifact
    from closecast.inference.forecaster import Forecaster

    torch.set_num_threads(1)  # as the server does
    forecaster = Forecaster(load_artifact(artifact))
    values = [100.0 + np.sin(i / 3) for i in range(forecaster.window)]

    def timed() -> tuple[float, float]:
        times = call_times(lambda: forecaster.predict(values), iterations, max(20, iterations // 10))
        return percentile_ms(times, 50), percentile_ms(times, 99)

    codec = forecaster.series[forecaster.names[0]].codec
    x = codec.encode(torch.tensor(values, dtype=torch.float64)).unsqueeze(0)

    def timed_forward() -> tuple[float, float]:
        with torch.inference_mode():
            times = call_times(lambda: forecaster.net(x), iterations, max(20, iterations // 10))
        return percentile_ms(times, 50), percentile_ms(times, 99)

    results: dict[str, list[tuple[float, float]]] = {"forecast": [], "forward": []}
    for _ in range(2):  # A/B/A/B: the whole forecast, then the module's forward alone
        results["forecast"].append(timed())
        results["forward"].append(timed_forward())
    med = {
        k: (statistics.median(p[0] for p in v), statistics.median(p[1] for p in v))
        for k, v in results.items()
    }
    return {
        "inproc_p50_ms": med["forecast"][0],
        "inproc_p99_ms": med["forecast"][1],
        "inproc_forward_p50_ms": med["forward"][0],
        "inproc_forward_p99_ms": med["forward"][1],
        "window": forecaster.window,
        "model": forecaster.metadata.get("model"),
    }


def main(argv: list[str]) -> int:
    """Run the benchmark: start the three servers, load them in turn, time the forecast in-process."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per server per round")
    parser.add_argument("--concurrency", type=int, default=8, help="connections kept busy at once")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (medians reported)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers, the same for every server")
    parser.add_argument("--inproc-iterations", type=int, default=5000, help="timed in-process forecasts")
    parser.add_argument(
        "--batch", type=int, default=500, help="series per batch request (0: no batch figures)"
    )
    parser.add_argument("--batch-requests", type=int, default=50, help="timed batch requests")
    parser.add_argument(
        "--load-generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk (apt-get install wrk), this benchmark's asyncio client, or auto: wrk when installed",
    )
    parser.add_argument(
        "--artifact",
        type=Path,
        help="artifact to serve (default: checkpoints/best.pt, what `make train` publishes; without one, or "
        "with --tiny, an artifact of the default shape)",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--update-docs", action="store_true", help="rewrite the serve section of docs/BENCHMARKS.md"
    )
    parser.add_argument("--tiny", action="store_true", help="a few requests, one round: checks that it runs")
    args = parser.parse_args(argv)

    if args.tiny:
        args.requests, args.concurrency, args.rounds, args.inproc_iterations = 40, 2, 1, 50
        args.batch, args.batch_requests = min(args.batch, 20), 5
    if args.batch < 0:
        parser.error(f"--batch must be at least 0, got {args.batch}")
    for name in ("requests", "concurrency", "rounds", "workers", "inproc_iterations", "batch_requests"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")

    if args.load_generator == "wrk" and not shutil.which("wrk"):
        parser.error("--load-generator wrk: wrk is not installed (apt-get install -y wrk); or use python")
    load_before = round(os.getloadavg()[0], 2)  # others' work on a shared machine skews every figure
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        workdir = Path(tmp)
        (workdir / "checkpoints").mkdir()
        artifact = workdir / "checkpoints" / "best.pt"
        if args.artifact and not args.artifact.is_file():
            parser.error(f"--artifact {args.artifact}: no such file; train one with `make train`")
        artifact_name = place_artifact(artifact, args.artifact or (None if args.tiny else PUBLISHED))
        universe = workdir / "checkpoints" / "universe.pt"
        if args.batch:
            default_artifact(universe, n_series=args.batch)
        inproc = measure_inproc(artifact, args.inproc_iterations)
        window = inproc["window"]
        values = [round(100.0 + 5.0 * ((i * 7919) % 97) / 97, 4) for i in range(max(60, window))]
        # The capstone body, unchanged; the capstone server resolves the path against its cwd.
        body = json.dumps(
            {"values": values, "checkpoint_path": "checkpoints/best.pt", "device": "cpu"}
        ).encode()
        servers = {name: Server(name, workdir, args.workers) for name in SERVERS}
        try:
            for server in servers.values():
                server.wait_ready()
            load = measure_load(servers, body, args, workdir)
            served = {name: served_forecast(servers[name].url) for name in ("closecast", "closecast-alone")}
            batch = {}
            if args.batch:
                items = batch_items(args.batch, window)
                batch = measure_batch(servers["closecast"].url, items, args.batch_requests)
                batch.update(measure_batch_inproc(universe, items, args.batch_requests))
        finally:
            for server in servers.values():
                server.stop()

    failed = {name: s["errors"] for name, s in load.items() if s["errors"]}
    if batch.get("batch_errors"):
        failed["closecast batch"] = batch["batch_errors"]
    if failed:
        print(f"error: requests failed ({failed}); see the server logs", file=sys.stderr)
        return 1
    result = {
        "ratio_vs_bare": load["closecast"]["req_per_s"] / load["bare"]["req_per_s"],
        "ratio_vs_capstone": load["closecast"]["req_per_s"] / load["capstone"]["req_per_s"],
        **{k: v for k, v in inproc.items() if k != "window"},
        "ratio_vs_alone": load["closecast"]["req_per_s"] / load["closecast-alone"]["req_per_s"],
        **served["closecast"],
        "alone": {
            **served["closecast-alone"],
            **overheads(
                load["closecast-alone"]["cpu_ms_per_request"],
                served["closecast-alone"]["served_inference_ms"],
                inproc["inproc_p50_ms"],
            ),
        },
        "served_artifact": artifact_name,
        **overheads(
            load["closecast"]["cpu_ms_per_request"],
            served["closecast"]["served_inference_ms"],
            inproc["inproc_p50_ms"],
        ),
        **batch,
        "servers": load,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "workers": args.workers,
        "targets": TARGETS,
        "machine": document.machine(),
        "load_average_before": load_before,
    }
    command = "python -m benchmarks serve" + " ".join([""] + [a for a in argv if a not in ("--update-docs",)])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    if args.update_docs:
        print(f"updated {document.update_section('serve', markdown(result, command.split(' --json')[0]))}")
    for name in SERVERS:
        s = load[name]
        print(
            f"{name}_req_per_s {s['req_per_s']:.1f}  p50_ms {s['p50_ms']:.2f}  p99_ms {s['p99_ms']:.2f}  "
            f"peak_rss_mib {s['rss_peak_mib']:.0f}  errors {s['errors']}"
        )
    print(f"inproc_p50_ms {result['inproc_p50_ms']:.3f} (target <= {TARGETS['inproc_p50_ms']})")
    print(f"inproc_p99_ms {result['inproc_p99_ms']:.3f}")
    print(f"inproc_forward_p50_ms {result['inproc_forward_p50_ms']:.3f}")
    print(f"ratio_vs_bare {result['ratio_vs_bare']:.3f} (target >= {TARGETS['ratio_vs_bare']})")
    print(
        f"overhead_over_inproc {result['overhead_over_inproc']:.2f} "
        f"(target <= {TARGETS['overhead_over_forecast']:g}; over the forecast inside the server "
        f"{result['overhead_over_forecast']:.2f}; {result['requests_per_call']:.2f} requests a call)"
    )
    print(f"ratio_vs_alone {result['ratio_vs_alone']:.2f} (closecast / closecast with COALESCE=false)")
    if batch:
        print(
            f"batch_{args.batch}_p50_ms {batch['batch_p50_ms']:.2f} (target <= {TARGETS['batch_p50_ms']})  "
            f"inproc {batch['batch_inproc_p50_ms']:.2f}  forecasts_per_s {batch['batch_forecasts_per_s']:.0f}"
        )
    print(f"ratio_vs_capstone {result['ratio_vs_capstone']:.2f} (target >= {TARGETS['ratio_vs_capstone']})")
    return 0
