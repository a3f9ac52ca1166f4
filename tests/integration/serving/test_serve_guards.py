"""What guards the server: settings, the API key, body limits, artifact checks, what /models leaves out,
middleware, the command line."""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path

import httpx
import pytest
import torch
from fastapi.testclient import TestClient

from closecast.artifacts.schema import ArtifactError, check_artifact, load_artifact
from closecast.serving.app import create_app
from closecast.serving.run import main
from closecast.serving.settings import Settings, SettingsError
from tests.helpers.live_server import live_server

VALUES = [100.0 + 0.5 * i for i in range(40)]


@pytest.fixture
def checkpoints(trained_artifact: Path, tmp_path: Path) -> Path:
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    shutil.copyfile(trained_artifact, directory / "best.pt")
    return directory


@pytest.mark.slow  # a server of its own: a process start
def test_api_key_guards_predict_and_models_but_not_health_or_metrics(checkpoints: Path) -> None:
    with live_server(checkpoints, API_KEY="s3cret-key") as url, httpx.Client(base_url=url) as client:
        good = {"Authorization": "Bearer s3cret-key"}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-key"}):
            r = client.post("/predict", json={"values": VALUES}, headers=headers)
            assert r.status_code == 401 and "API_KEY" in r.json()["detail"], r.text
            assert client.get("/models", headers=headers).status_code == 401
            assert client.post("/models/reload", headers=headers).status_code == 401
        assert client.post("/predict", json={"values": VALUES}, headers=good).status_code == 200
        assert client.get("/models", headers=good).status_code == 200
        assert client.post("/models/reload", headers=good).status_code == 200
        assert client.get("/health").status_code == 200 and client.get("/metrics").status_code == 200
        assert "HTTPBearer" in json.dumps(client.get("/openapi.json").json()["components"])


def test_without_api_key_everything_is_open(checkpoints: Path) -> None:
    with TestClient(create_app(Settings(checkpoints_dir=checkpoints, reload_interval=0))) as client:
        assert client.post("/predict", json={"values": VALUES}).status_code == 200
        assert client.get("/models").status_code == 200
        assert "HTTPBearer" not in json.dumps(client.get("/openapi.json").json())


def test_a_middleware_added_the_normal_way_sees_predict(checkpoints: Path) -> None:
    seen: list[str] = []

    class Recorder:
        def __init__(self, app) -> None:
            self.app = app

        async def __call__(self, scope, receive, send) -> None:
            if scope["type"] == "http":
                seen.append(f"{scope['method']} {scope['path']}")
            await self.app(scope, receive, send)

    app = create_app(Settings(checkpoints_dir=checkpoints, reload_interval=0))
    app.add_middleware(Recorder)
    with TestClient(app) as client:
        r = client.post("/predict", json={"values": VALUES})
        assert r.status_code == 200 and "X-Response-Time-ms" in r.headers
    assert seen == ["POST /predict"]


def test_models_reports_no_config_paths_or_urls(checkpoints: Path, tmp_path: Path) -> None:
    artifact = load_artifact(checkpoints / "best.pt")
    secret = "postgresql://closecast:hunter2@db.internal:5432/studies"
    artifact.update(
        config={"hpo": {"storage": secret}, "paths": {"root_dir": str(tmp_path)}},
        run_dir=str(tmp_path / "multirun" / "7"),
    )
    record = artifact["series"]["AAPL"]
    record["data"] = {**record["data"], "path": str(tmp_path / "prices.csv"), "url": secret}
    torch.save(artifact, checkpoints / "sweep.pt")
    with TestClient(create_app(Settings(checkpoints_dir=checkpoints, reload_interval=0))) as client:
        body = client.get("/models").json()
    text = json.dumps(body)
    assert {m["name"] for m in body["models"]} == {"best.pt", "sweep.pt"}
    for leaked in ("hunter2", "postgresql", str(tmp_path), "multirun", "config", "run_dir"):
        assert leaked not in text, leaked
    (sweep,) = (m for m in body["models"] if m["name"] == "sweep.pt")
    for key in ("sha256", "size_bytes", "modified", "window", "horizon", "ticker", "feature", "versions"):
        assert key in sweep, key
    assert sweep["data"]["start"] and "test/mae" in sweep["metrics"]


MALFORMED = {
    "data.pt": lambda a: a["series"]["AAPL"].update(data="oops"),
    "metrics.pt": lambda a: a.update(metrics=[1, 2]),
    "residuals.pt": lambda a: a["series"]["AAPL"]["calibration"].update(residuals=torch.tensor(0.5)),
    "codec.pt": lambda a: a["series"]["AAPL"]["codec"].update(std=-1.0),
    "series.pt": lambda a: a.update(series=[]),
    "state.pt": lambda a: a.update(state_dict={"w": "not a tensor"}),
}


def test_the_writer_follows_the_artifact_schema(trained_artifact: Path) -> None:
    artifact = torch.load(trained_artifact, weights_only=True)  # what training wrote
    assert check_artifact(artifact) is artifact
    for name, spoil in MALFORMED.items():
        bad = torch.load(trained_artifact, weights_only=True)
        spoil(bad)
        with pytest.raises(ArtifactError, match="malformed artifact"):
            check_artifact(bad, name)


@pytest.mark.slow  # a server of its own: a process start
def test_malformed_artifacts_are_listed_and_the_rest_keep_serving(checkpoints: Path) -> None:
    for name, spoil in MALFORMED.items():
        artifact = torch.load(checkpoints / "best.pt", weights_only=True)
        spoil(artifact)
        torch.save(artifact, checkpoints / name)
    with live_server(checkpoints) as url, httpx.Client(base_url=url) as client:
        assert client.get("/health").json()["models"] == ["best.pt"]
        report = client.post("/models/reload")
        assert report.status_code == 200 and set(report.json()["errors"]) == set(MALFORMED)
        for name in MALFORMED:
            assert "malformed artifact" in report.json()["errors"][name]
            r = client.post("/predict", json={"values": VALUES, "checkpoint_path": name, "interval": 0.9})
            assert r.status_code == 404
        shutil.copyfile(checkpoints / "best.pt", checkpoints / "late.pt")  # a good file still loads
        assert client.post("/models/reload").json()["added"] == ["late.pt"]
        assert client.post("/predict", json={"values": VALUES, "checkpoint_path": "late"}).status_code == 200


@pytest.mark.slow  # a server of its own: a process start
def test_a_stalled_body_is_answered_408_and_the_connection_closed(checkpoints: Path) -> None:
    with live_server(checkpoints, BODY_TIMEOUT="1") as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            head = f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            sock.sendall((head + "Content-Length: 400\r\n\r\n").encode() + b'{"values": [1.0, ')
            start = time.monotonic()
            answer = b""
            while chunk := sock.recv(65536):  # the server closes the connection after answering
                answer += chunk
            waited = time.monotonic() - start
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"did not arrive within 1 s" in answer
        assert 0.5 < waited < 20
        assert httpx.post(f"{url}/predict", json={"values": VALUES}).status_code == 200


def test_a_checkpoints_dir_that_is_a_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints"
    path.write_text("not a directory")
    with TestClient(create_app(Settings(checkpoints_dir=path, reload_interval=0))) as client:
        assert client.get("/health").status_code == 503
        (message,) = client.get("/models").json()["errors"].values()
    assert "is a file, not a directory" in message


@pytest.mark.parametrize(
    ("env", "fragment"),
    [({"PORT": "http"}, "PORT='http'"), ({"PORT": "70000"}, "PORT"), ({"WORKERS": "0"}, "WORKERS")],
)
def test_bad_settings_name_the_variable(env: dict, fragment: str, monkeypatch, capsys) -> None:
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(env)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main([]) == 2
    assert fragment in capsys.readouterr().err


def test_defaults_match_make_serve() -> None:
    s = Settings.from_env({})  # loopback unless HOST says otherwise (the container sets 0.0.0.0)
    assert (s.host, s.port, s.workers, s.checkpoints_dir) == ("127.0.0.1", 9010, 1, Path("checkpoints"))
    assert s.api_key is None


def test_a_file_of_a_newer_format_is_listed_by_its_number_and_a_format_3_file_serves(tmp_path: Path) -> None:
    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    shutil.copyfile(fixtures / "artifact_v3.pt", directory / "best.pt")  # published under format 3
    newer = torch.load(directory / "best.pt", weights_only=True)
    newer["format"] = "closecast.artifact/5"
    newer["series"]["IBM"]["calibration"]["a_later_field"] = 1.0
    torch.save(newer, directory / "newer.pt")
    with TestClient(create_app(Settings(checkpoints_dir=directory, reload_interval=0))) as client:
        errors = client.get("/models").json()["errors"]
        assert errors == {
            "newer.pt": "newer.pt: format 5 is newer than this closecast reads (4); upgrade closecast"
        }
        values = json.loads((fixtures / "artifact_v3_answer.json").read_text())["values"]
        assert (
            client.post("/predict", json={"values": values, "checkpoint_path": "best.pt"}).status_code == 200
        )
