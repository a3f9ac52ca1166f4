"""A real server on a checkpoints directory full of bad files starts, serves the good model, lists the
bad ones under `errors` and keeps picking up what is published."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from closecast.artifacts.publish import save_artifact
from tests.helpers.artifacts import WINDOW, absurd_window, nan_weights, tiny_artifact
from tests.helpers.live_server import live_server

VALUES = [100.0 + 0.5 * i for i in range(WINDOW)]


@pytest.mark.slow  # a server of its own: a process start
def test_a_server_among_bad_files_serves_the_good_one_and_picks_up_new_ones(tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    save_artifact(tiny_artifact("point"), checkpoints / "good.pt")
    with open(checkpoints / "huge.pt", "wb") as f:
        f.truncate(2**40)  # a sparse terabyte
    (checkpoints / "loop.pt").symlink_to(checkpoints / "loop.pt")
    save_artifact(nan_weights(), checkpoints / "nan.pt")
    save_artifact(absurd_window(), checkpoints / "window.pt")
    with live_server(checkpoints, RELOAD_INTERVAL="0.5") as url, httpx.Client(base_url=url) as client:
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["models"] == ["good.pt"], health.text
        errors = client.get("/models").json()["errors"]
        assert set(errors) == {"huge.pt", "loop.pt", "nan.pt", "window.pt"}, errors
        assert client.post("/predict", json={"values": VALUES, "checkpoint_path": "good"}).status_code == 200
        save_artifact(tiny_artifact("gaussian"), checkpoints / "late.pt")
        deadline = time.monotonic() + 60  # a bound for a busy machine, not a timing
        while "late.pt" not in client.get("/health").json()["models"]:
            assert time.monotonic() < deadline, "the published file was not picked up"
            time.sleep(0.1)
        r = client.post("/predict", json={"values": VALUES, "checkpoint_path": "late", "interval": 0.9})
        assert r.status_code == 200, r.text
        assert client.post("/models/reload").status_code == 200
    (log,) = tmp_path.glob("server-*.log")
    # Each bad file is reported once, not at every look at the directory.
    assert log.read_text().count("skipped huge.pt") == 1, log.read_text()[-3000:]
