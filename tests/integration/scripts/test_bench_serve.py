"""`python -m benchmarks serve` runs on a tiny setting and writes the figures the docs table needs
(not timed). Its main runs here; the servers and the load generator are processes it starts."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from omegaconf import OmegaConf

from benchmarks.serve import main
from benchmarks.serve_batch import place_artifact
from benchmarks.serve_load import overheads
from tests.helpers.configs import ROOT

pytestmark = pytest.mark.slow

# Without wrk installed, `auto` is the python client: one run covers both.
GENERATORS = {
    "auto": [],
    **({"python-client": ["--load-generator", "python"]} if shutil.which("wrk") else {}),
}


@pytest.mark.parametrize("generator", list(GENERATORS))
def test_bench_serve_tiny_writes_valid_json(tmp_path, capsys, generator: str) -> None:
    out = tmp_path / "serve.json"
    assert main(["--tiny", "--json", str(out), *GENERATORS[generator]]) == 0
    stdout = capsys.readouterr().out
    result = json.loads(out.read_text())
    for key in ("ratio_vs_bare", "ratio_vs_capstone", "inproc_p50_ms", "inproc_p99_ms"):
        assert math.isfinite(result[key]) and result[key] > 0, key
    for name in ("bare", "closecast", "closecast-alone", "capstone"):
        server = result["servers"][name]
        assert server["errors"] == 0 and server["requests"] >= 40 and server["req_per_s"] > 0
        # CPU time counts in clock ticks: a tiny run may not last one.
        assert server["rss_peak_mib"] > 0 and server["cpu_ms_per_request"] >= 0
    assert result["served_inference_ms"] > 0 and result["alone"]["served_inference_ms"] > 0
    # Each of the server's network calls answers at least one request; with COALESCE=false exactly one.
    assert result["requests_per_call"] >= 1 and result["alone"]["requests_per_call"] == 1
    assert result["ratio_vs_alone"] > 0
    assert result["served_artifact"].startswith("an artifact of the default shape")  # --tiny: never a file
    assert result["overhead_over_forecast"] == pytest.approx(
        overheads(result["servers"]["closecast"]["cpu_ms_per_request"], result["served_inference_ms"], 1.0)[
            "overhead_over_forecast"
        ]
    )
    python_client = generator == "python-client" or not shutil.which("wrk")
    tools = {s["tool"] for s in result["servers"].values()}
    assert tools == ({"python-asyncio"} if python_client else {"wrk (1 thread)"})
    # The benchmark serves the default model's shape, as configs/model/lstm.yaml sets it.
    default = OmegaConf.load(ROOT / "configs" / "model" / "lstm.yaml")
    assert (result["model"]["hidden"], result["model"]["layers"]) == (default.hidden, default.layers)
    # The last lines are the figures, one per line.
    assert stdout.strip().splitlines()[-1].startswith("ratio_vs_capstone ")


def test_the_overhead_is_the_cpu_beyond_the_forecast_over_the_forecast():
    # 0.643 ms of server CPU a request, 0.337 ms of it the forecast inside the server, 0.18 ms alone.
    figures = overheads(0.643, 0.337, 0.18)
    assert figures["overhead_over_forecast"] == pytest.approx(0.306 / 0.337)
    assert figures["overhead_over_inproc"] == pytest.approx(0.463 / 0.18)


def test_the_served_artifact_is_the_published_file_when_there_is_one(tmp_path):
    published = tmp_path / "best.pt"
    published.write_bytes(b"weights")
    served = place_artifact(tmp_path / "copy.pt", published)
    assert (tmp_path / "copy.pt").read_bytes() == b"weights" and served == str(published.resolve())
    served = place_artifact(tmp_path / "built.pt", tmp_path / "missing.pt")
    assert (
        served.startswith("an artifact of the default shape") and (tmp_path / "built.pt").stat().st_size > 0
    )
