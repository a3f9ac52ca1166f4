"""The HTTP metrics count the requests of every app a process makes, not only the first one's."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from closecast.artifacts.publish import save_artifact
from closecast.serving.app import create_app
from closecast.serving.settings import Settings
from tests.helpers.artifacts import tiny_artifact


def requests_counted(text: str, handler: str) -> float:
    """`http_requests_total` of `handler` with a 2xx status in an exposition text (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "http_requests_total" and s.labels.get("handler") == handler:
                if s.labels.get("status") == "2xx":
                    return s.value
    return 0.0


def test_each_app_made_in_a_process_counts_its_requests(tmp_path):
    # The library registers a metric once per process and gives later instrumentations nothing; an app made
    # after the first one (the tests make many, a server embedding two would too) counted no request.
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    save_artifact(tiny_artifact("point"), checkpoints / "best.pt")
    for _ in range(3):
        app = create_app(Settings(checkpoints_dir=checkpoints, reload_interval=0))
        with TestClient(app) as client:
            before = requests_counted(client.get("/metrics").text, "/models")
            assert client.get("/models").status_code == 200
            assert requests_counted(client.get("/metrics").text, "/models") == before + 1
