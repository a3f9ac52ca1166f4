"""End-to-end: a tiny run produces every output a user relies on."""

import json

import torch


def test_tiny_run_writes_all_outputs(tiny_run):
    tmp_path, metrics = tiny_run
    run = tmp_path / "run"
    saved = json.loads((run / "metrics.json").read_text())
    for key in (
        "test/mae",
        "test/rmse",
        "test/mape",
        "test/mase",
        "test/naive/mae",
        "test/naive/rmse",
        "test/naive/mape",
    ):
        assert key in saved and saved[key] == metrics[key]
    assert (run / "checkpoints" / "last.ckpt").exists()
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    artifact = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=True)
    assert artifact["model"]["hidden"] == 8
    assert artifact["window"] == 10
