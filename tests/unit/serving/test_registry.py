"""The registry survives anything in the checkpoints directory: each bad entry is listed under `errors`
with one line, not read again until it changes, and the good artifacts keep serving."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from closecast.artifacts.publish import save_artifact
from closecast.serving import registry as registry_module
from closecast.serving.app import create_app
from closecast.serving.registry import Registry
from closecast.serving.settings import Settings
from tests.helpers.artifacts import KINDS, WINDOW, absurd_window, nan_weights, tiny_artifact

VALUES = [100.0 + 0.5 * i for i in range(WINDOW)]


def level_target_with_a_likelihood_head() -> dict:
    artifact = tiny_artifact("level")
    artifact["state_dict"] = tiny_artifact("gaussian")["state_dict"]
    artifact["model"] = {**artifact["model"], "likelihood": "gaussian"}
    return artifact


def surrogate_in_metadata() -> dict:
    return {**tiny_artifact("point"), "created": "2026-01-01\udc80"}


def huge_hidden() -> dict:
    artifact = tiny_artifact("point")
    artifact["model"] = {**artifact["model"], "hidden": 10**6}
    return artifact


BAD = {
    "nan.pt": (nan_weights, "not a finite number"),
    "window.pt": (absurd_window, "window=1000000000 is over the largest a server loads (10000)"),
    "level.pt": (level_target_with_a_likelihood_head, "needs data.target=return"),
    "surrogate.pt": (surrogate_in_metadata, "cannot be answered as JSON"),
    "hidden.pt": (huge_hidden, "model.hidden=1000000 is over"),
}


@pytest.fixture
def checkpoints(tmp_path: Path) -> Path:
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    save_artifact(tiny_artifact("point"), directory / "good.pt")
    return directory


def serve(checkpoints: Path) -> TestClient:
    app = create_app(Settings(checkpoints_dir=checkpoints, reload_interval=0))
    return TestClient(app, raise_server_exceptions=False)


def test_every_bad_file_is_listed_with_one_line_and_the_good_one_serves(checkpoints: Path) -> None:
    for name, (make, _) in BAD.items():
        save_artifact(make(), checkpoints / name)
    with open(checkpoints / "huge.pt", "wb") as f:
        f.truncate(2**40)  # a sparse terabyte: refused on its size, never read
    (checkpoints / "loop.pt").symlink_to(checkpoints / "loop.pt")
    (checkpoints / "dangling.pt").symlink_to(checkpoints / "gone.pt")
    with serve(checkpoints) as client:
        assert client.get("/health").json()["models"] == ["good.pt"]
        for route in (client.get("/models"), client.post("/models/reload")):
            assert route.status_code == 200, route.text
        errors = client.get("/models").json()["errors"]
        assert set(errors) == {*BAD, "huge.pt", "loop.pt", "dangling.pt"}
        for name, (_, reason) in BAD.items():
            assert errors[name].startswith(f"{name}: ") and reason in errors[name], errors[name]
        assert "1099511627776 bytes, over the 1073741824" in errors["huge.pt"]
        assert "loop" in errors["loop.pt"].lower() and "cannot be read" in errors["dangling.pt"]
        for message in errors.values():
            assert "\n" not in message and str(checkpoints) not in message
        r = client.post("/predict", json={"values": VALUES, "checkpoint_path": "good", "quantiles": [0.1]})
        assert r.status_code == 200, r.text
        assert client.post("/predict", json={"values": VALUES, "checkpoint_path": "nan"}).status_code == 404


def test_a_file_name_no_answer_could_carry_is_listed_escaped(checkpoints: Path) -> None:
    undecodable = os.path.join(os.fsencode(checkpoints), b"\xff.pt")  # bytes that are not UTF-8
    os.link(checkpoints / "good.pt", undecodable)
    os.link(checkpoints / "good.pt", checkpoints / "line\nbreak.pt")
    with serve(checkpoints) as client:
        for route in (client.get("/health"), client.get("/models"), client.post("/models/reload")):
            assert route.status_code == 200, route.text
        errors = client.get("/models").json()["errors"]
    assert set(errors) == {"\\udcff.pt", "line\\nbreak.pt"}, errors
    assert "not printable UTF-8; not served (rename it)" in errors["\\udcff.pt"]


def test_a_failed_file_is_not_read_again_until_it_changes(checkpoints: Path, monkeypatch) -> None:
    (checkpoints / "garbage.pt").write_bytes(b"\x00" * 4096)
    reads: list[str] = []
    load = registry_module.load_artifact
    monkeypatch.setattr(
        registry_module, "load_artifact", lambda path: reads.append(Path(path).name) or load(path)
    )
    registry = Registry(checkpoints)
    registry.reload()
    assert sorted(reads) == ["garbage.pt", "good.pt"] and "garbage.pt" in registry.errors
    assert not registry.changed()  # nothing to reload at the next interval
    registry.reload()
    assert sorted(reads) == ["garbage.pt", "good.pt"] and "garbage.pt" in registry.errors
    save_artifact(tiny_artifact("gaussian"), checkpoints / "garbage.pt")  # fixed: a new stamp
    assert registry.changed()
    assert registry.reload()["added"] == ["garbage.pt"] and reads.count("garbage.pt") == 2
    assert registry.errors == {}


def test_any_exception_of_one_file_stays_that_files(checkpoints: Path, monkeypatch) -> None:
    save_artifact(tiny_artifact("gaussian"), checkpoints / "memory.pt")
    load = registry_module.load_artifact

    def exhausted(path):
        if Path(path).name == "memory.pt":
            raise MemoryError("cannot allocate")
        return load(path)

    monkeypatch.setattr(registry_module, "load_artifact", exhausted)
    registry = Registry(checkpoints)
    assert registry.reload()["loaded"] == ["good.pt"]
    assert registry.errors == {"memory.pt": "memory.pt: MemoryError: cannot allocate"}


def test_a_directory_or_file_that_cannot_be_read_is_listed(checkpoints: Path, monkeypatch) -> None:
    # Root reads anything, so the refusal the kernel would give another user is given here.
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(checkpoints))

    registry = Registry(checkpoints)
    registry.reload()
    with monkeypatch.context() as patch:
        patch.setattr(registry_module, "_digest", refused)
        save_artifact(tiny_artifact("point"), checkpoints / "locked.pt")
        assert registry.reload()["errors"] == {"locked.pt": "locked.pt: Permission denied"}
        patch.setattr(registry_module.os, "scandir", refused)
        (message,) = registry.reload()["errors"].values()
    assert message.startswith(
        "the checkpoints directory (CHECKPOINTS_DIR) cannot be read (Permission denied)"
    )
    assert registry.names == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_listed(checkpoints: Path) -> None:
    save_artifact(tiny_artifact("point"), checkpoints / "locked.pt")
    (checkpoints / "locked.pt").chmod(0)
    registry = Registry(checkpoints)
    registry.reload()
    assert registry.names == ["good.pt"] and "Permission denied" in registry.errors["locked.pt"]


def test_health_is_degraded_while_the_newest_file_failed(checkpoints: Path) -> None:
    with serve(checkpoints) as client:
        assert client.get("/health").json() == {"status": "ok", "models": ["good.pt"], "errors": {}}
        good = checkpoints / "good.pt"
        os.utime(good, ns=(good.stat().st_atime_ns, good.stat().st_mtime_ns - 10**10))  # older
        save_artifact(nan_weights(), checkpoints / "newer.pt")
        client.post("/models/reload")
        r = client.get("/health")
        assert r.status_code == 200 and r.json()["status"] == "degraded", r.text
        assert "newer.pt" in r.json()["detail"] and "newer.pt" in r.json()["errors"]
        newest = save_artifact(tiny_artifact("point"), checkpoints / "newest.pt")  # a good one after it
        os.utime(
            newest, ns=(newest.stat().st_atime_ns, (checkpoints / "newer.pt").stat().st_mtime_ns + 10**9)
        )
        client.post("/models/reload")
        r = client.get("/health").json()
        assert r["status"] == "ok" and r["models"] == ["good.pt", "newest.pt"] and "newer.pt" in r["errors"]


def test_answers_name_no_server_path(checkpoints: Path, tmp_path: Path) -> None:
    with serve(checkpoints) as client:
        r = client.post("/predict", json={"values": VALUES, "checkpoint_path": "missing"})
        assert r.status_code == 404 and "CHECKPOINTS_DIR" in r.json()["detail"]
        texts = [r.text]
        for path in checkpoints.iterdir():
            path.unlink()
        client.post("/models/reload")
        texts += [client.get("/health").text, client.post("/predict", json={"values": VALUES}).text]
        assert client.post("/predict", json={"values": VALUES}).status_code == 503
    with serve(tmp_path / "nowhere") as client:
        texts += [client.get("/health").text, client.get("/models").text]
    for text in texts:
        assert str(tmp_path) not in text, text
    assert "does not exist" in json.dumps(texts)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_of_artifact_passes_its_warm_up(checkpoints: Path, kind: str) -> None:
    save_artifact(tiny_artifact(kind), checkpoints / f"{kind}.pt")
    registry = Registry(checkpoints)
    registry.reload()
    assert f"{kind}.pt" in registry.names and not registry.errors
