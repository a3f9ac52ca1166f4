"""The serving benchmark's section of docs/BENCHMARKS.md (`python -m benchmarks serve --update-docs`): one
row per server, then the figures beside their targets."""

from benchmarks import document

TARGETS = {"ratio_vs_bare": 0.5, "ratio_vs_capstone": 10.0, "inproc_p50_ms": 0.3, "batch_p50_ms": 20.0}
# Server CPU per request beyond the forecast, over the forecast's own time (timed alone, and inside the
# loaded server).
TARGETS["overhead_over_forecast"] = 1.0
SERVERS = ("bare", "closecast", "closecast-alone", "capstone")
LABELS = {"closecast-alone": "closecast, COALESCE=false"}


def markdown(result: dict, command: str) -> str:
    """The docs section: machine, command, one row per server, the figures beside their targets."""
    load, alone = result["servers"], result["alone"]
    cpu = {name: load[name]["cpu_ms_per_request"] for name in SERVERS}
    cpu_ratios = (  # a run shorter than a clock tick measures no CPU time
        f"{cpu['bare'] / cpu['closecast']:.2f}, {cpu['capstone'] / cpu['closecast']:.1f} and "
        f"{cpu['closecast-alone'] / cpu['closecast']:.2f}"
        if cpu["closecast"] > 0
        else "n/a (run too short)"
    )
    lines = [
        "## Serving (`python -m benchmarks serve`)",
        "",
        document.machine_line(result["machine"]),
        f"Command: `{command}` — {result['requests']} requests × {result['rounds']} rounds per server at "
        f"concurrency {result['concurrency']}, {result['workers']} worker(s), "
        f"load from {load['closecast']['tool']}; "
        f"medians of alternating rounds. Load average before the run: {result['load_average_before']} "
        f"(round by round, closecast req/s: {load['closecast']['rounds']}). Served: "
        f"{result['served_artifact']}.",
        "",
        "| server | req/s | p50 ms | p99 ms | server CPU ms/req | peak RSS MiB | RSS first → last MiB "
        "| errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in SERVERS:
        s = load[name]
        lines.append(
            f"| {LABELS.get(name, name)} | {s['req_per_s']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | "
            f"{s['cpu_ms_per_request']:.3f} | {s['rss_peak_mib']:.0f} | "
            f"{s['rss_first_mib']:.0f} → {s['rss_last_mib']:.0f} | {s['errors']} |"
        )
    beyond = TARGETS["overhead_over_forecast"]
    lines += [
        "",
        "| figure | measured | target |",
        "|---|---:|---:|",
        f"| closecast / bare throughput | {result['ratio_vs_bare']:.2f} | ≥ {TARGETS['ratio_vs_bare']} |",
        f"| closecast / capstone throughput | {result['ratio_vs_capstone']:.1f} | "
        f"≥ {TARGETS['ratio_vs_capstone']:.0f} |",
        f"| closecast / closecast with COALESCE=false throughput | {result['ratio_vs_alone']:.2f} | |",
        f"| the same three by server CPU per request (steadier on a shared machine) | {cpu_ratios} | |",
        f"| in-process forecast p50 (ms) | {result['inproc_p50_ms']:.3f} | ≤ {TARGETS['inproc_p50_ms']} |",
        f"| in-process forecast p99 (ms) | {result['inproc_p99_ms']:.3f} | |",
        f"| of which the module's forward, p50 (ms) | {result['inproc_forward_p50_ms']:.3f} | |",
        f"| /predict requests one network call answered, mean | {result['requests_per_call']:.2f} | |",
        f"| forecast time inside the loaded server per request (ms); with COALESCE=false "
        f"| {result['served_inference_ms']:.3f}; {alone['served_inference_ms']:.3f} | |",
        f"| server CPU per request beyond the forecast, over the forecast timed alone (in-process p50); "
        f"with COALESCE=false | {result['overhead_over_inproc']:.2f}; {alone['overhead_over_inproc']:.2f} "
        f"| ≤ {beyond:g} |",
        f"| the same over the forecast time inside the server; with COALESCE=false "
        f"| {result['overhead_over_forecast']:.2f}; {alone['overhead_over_forecast']:.2f} | ≤ {beyond:g} |",
        "",
        f"Where a request's time goes (one worker): {cpu['closecast']:.3f} ms of server CPU per "
        f"closecast request against {cpu['bare']:.3f} ms for the bare route. A forecast timed alone takes "
        f"{result['inproc_p50_ms']:.3f} ms (the LSTM forward {result['inproc_forward_p50_ms']:.3f} ms). "
        f"Inside the loaded server a network call answered {result['requests_per_call']:.2f} requests on "
        f"average, {result['served_inference_ms']:.3f} ms of forecast per request (its own histograms), "
        f"which leaves {cpu['closecast'] - result['served_inference_ms']:.3f} ms for the server, the "
        "framework, closecast's middleware and metrics. With COALESCE=false every request has a call of "
        f"its own: {alone['served_inference_ms']:.3f} ms of forecast and "
        f"{cpu['closecast-alone'] - alone['served_inference_ms']:.3f} ms besides.",
    ]
    if "batch_p50_ms" in result:
        n = result["batch_items"]
        lines += [
            "",
            f"Batch route: one `POST /predict/batch` of {n} series' windows ({result['batch_body_bytes']} "
            f"bytes; a pooled artifact of the default shape with {n} series), {result['batch_requests']} "
            "requests one at a time on a kept-alive connection to the same server.",
            "",
            "| figure | measured | target |",
            "|---|---:|---:|",
            f"| batch of {n}, p50 ms | {result['batch_p50_ms']:.2f} | ≤ {TARGETS['batch_p50_ms']:.0f} |",
            f"| batch of {n}, p99 ms | {result['batch_p99_ms']:.2f} | |",
            f"| the same batch in-process, p50 ms | {result['batch_inproc_p50_ms']:.2f} | |",
            f"| the same batch in-process with 3 quantiles, p50 ms | "
            f"{result['batch_quantiles_inproc_p50_ms']:.2f} | |",
            f"| forecasts/s: batch of {n} / single-series requests at concurrency {result['concurrency']} | "
            f"{result['batch_forecasts_per_s']:.0f} / {load['closecast']['req_per_s']:.0f} | |",
        ]
    return "\n".join(lines)
