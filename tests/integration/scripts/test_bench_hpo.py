"""`python -m benchmarks hpo` on a tiny setting: both arms' sweeps run and the figures add up (not timed).
Its main runs here; its sweeps are subprocesses, as the benchmark starts them."""

from __future__ import annotations

import json

import pytest

from benchmarks.hpo import main


@pytest.mark.slow
def test_bench_hpo_tiny_run_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    assert main(["--tiny", "--json", str(out), "--workdir", str(tmp_path / "work")]) == 0
    report = json.loads(out.read_text())
    for arm in ("pruned", "unpruned"):
        assert report[arm]["trials"] == 2
        assert report[arm]["epochs"] >= 1
    assert report["epochs_ratio"] == pytest.approx(report["pruned"]["epochs"] / report["unpruned"]["epochs"])
