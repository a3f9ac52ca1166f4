"""The API key: checked before a body is read or judged, stated in the schema for every route it guards,
and refused at start when no client could send it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from closecast.artifacts.publish import save_artifact
from closecast.serving.app import create_app
from closecast.serving.run import main
from closecast.serving.schemas import MAX_BODY_BYTES
from closecast.serving.settings import Settings, SettingsError
from tests.helpers.artifacts import WINDOW, tiny_artifact

KEY = "s3cret-key"
GOOD = {"Authorization": f"Bearer {KEY}"}
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    checkpoints = tmp_path_factory.mktemp("auth") / "checkpoints"
    checkpoints.mkdir()
    save_artifact(tiny_artifact("point"), checkpoints / "best.pt")
    app = create_app(Settings(checkpoints_dir=checkpoints, reload_interval=0, api_key=KEY))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


BODIES = {
    "malformed JSON": b'{"values": [1.0, 2.0',
    "empty body": b"",
    "not an object": b"[1, 2]",
    "invalid values": b'{"values": ["x"]}',
    "over the size limit": b'{"values": [' + b"1.0, " * (MAX_BODY_BYTES // 5) + b"1.0]}",
}


@pytest.mark.parametrize("path", ["/predict", "/predict/batch"])
@pytest.mark.parametrize("case", list(BODIES))
def test_without_the_key_any_body_is_401(client: TestClient, path: str, case: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        r = client.post(path, content=BODIES[case], headers={**JSON, **headers})
        assert r.status_code == 401, r.text
        assert "API_KEY" in r.json()["detail"] and r.headers["WWW-Authenticate"] == "Bearer"
    r = client.post(path, content=BODIES[case], headers={**JSON, **GOOD})
    assert r.status_code in (400, 413, 422), r.text  # with the key, the body's own error


def test_with_the_key_a_good_body_is_answered(client: TestClient) -> None:
    values = [100.0 + i for i in range(WINDOW)]
    assert client.post("/predict", json={"values": values}, headers=GOOD).status_code == 200
    assert client.post("/predict", json={"values": values}).status_code == 401
    assert client.get("/health").status_code == 200 and client.get("/metrics").status_code == 200


def test_the_schema_lists_401_for_every_route_behind_the_key(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    guarded = {"/predict", "/predict/batch", "/models", "/models/reload"}
    for path, operations in paths.items():
        for method, operation in operations.items():
            listed = "401" in operation["responses"]
            assert listed == (path in guarded), f"{method.upper()} {path}: {sorted(operation['responses'])}"
            if listed:
                assert operation["security"] == [{"HTTPBearer": []}]


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "is empty or only spaces"),
        ("   ", "is empty or only spaces"),
        (" s3cret", "has spaces around it"),
        ("s3cret\t", "has spaces around it"),
        ("clé-secrète", "holds characters other than printable ASCII"),
        ("s3\ncret", "holds characters other than printable ASCII"),
    ],
)
def test_a_key_no_client_could_send_stops_the_server_with_one_line(key, problem, monkeypatch, capsys):
    with pytest.raises(SettingsError, match=f"API_KEY {problem}; set a key of printable ASCII"):
        Settings.from_env({"API_KEY": key})
    with pytest.raises(ValueError, match=problem):
        Settings(api_key=key)
    monkeypatch.setenv("API_KEY", key)
    assert main([]) == 2
    err = capsys.readouterr().err
    way_out = "set a key of printable ASCII characters with no spaces around it, or unset API_KEY"
    assert err == f"error: API_KEY {problem}; {way_out}\n"
    if key.strip():
        assert key.strip() not in err  # the key itself is not echoed


def test_a_good_key_is_kept_as_given() -> None:
    assert Settings.from_env({"API_KEY": KEY}).api_key == KEY
    assert Settings.from_env({}).api_key is None
