"""`python -m benchmarks serve` runs on a tiny setting and writes the figures the docs table needs
(not timed)."""

from __future__ import annotations

import json
import math

import pytest
from omegaconf import OmegaConf

from tests.helpers.configs import ROOT
from tests.helpers.entries import run_module

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("generator", [[], ["--load-generator", "python"]], ids=["auto", "python-client"])
def test_bench_serve_tiny_writes_valid_json(tmp_path, generator: list[str]) -> None:
    out = tmp_path / "serve.json"
    done = run_module(
        "benchmarks", "serve", "--tiny", "--json", str(out), *generator, cwd=tmp_path, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    for key in ("ratio_vs_bare", "ratio_vs_capstone", "inproc_p50_ms", "inproc_p99_ms"):
        assert math.isfinite(result[key]) and result[key] > 0, key
    for name in ("bare", "closecast", "capstone"):
        server = result["servers"][name]
        assert server["errors"] == 0 and server["requests"] >= 40 and server["req_per_s"] > 0
        # CPU time counts in clock ticks: a tiny run may not last one.
        assert server["rss_peak_mib"] > 0 and server["cpu_ms_per_request"] >= 0
    assert result["served_inference_ms"] > 0
    if generator:
        assert {s["tool"] for s in result["servers"].values()} == {"python-asyncio"}
    # The benchmark serves the default model's shape, as configs/model/lstm.yaml sets it.
    default = OmegaConf.load(ROOT / "configs" / "model" / "lstm.yaml")
    assert (result["model"]["hidden"], result["model"]["layers"]) == (default.hidden, default.layers)
    # The last lines are the figures, one per line.
    assert done.stdout.strip().splitlines()[-1].startswith("ratio_vs_capstone ")
