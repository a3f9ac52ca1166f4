"""The HTTP service, end to end: a real uvicorn server on a loopback port, real trained artifacts."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch

from closecast.artifacts.schema import load_artifact
from closecast.inference.forecaster import Forecaster
from closecast.serving.settings import Settings
from tests.helpers.configs import compose_train, sample_closes
from tests.helpers.live_server import live_server
from tests.helpers.metrics import sample, scrape_until


@pytest.fixture(scope="module")
def served(trained_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A checkpoints dir with two good artifacts, a broken one and a link out; a server on it."""
    from closecast.training.run import train

    tmp = tmp_path_factory.mktemp("served")
    train(compose_train(tmp / "h3", ["data.horizon=3", "publish=true"]))
    checkpoints = tmp / "checkpoints"
    checkpoints.mkdir()
    shutil.copyfile(trained_artifact, checkpoints / "best.pt")
    shutil.copyfile(tmp / "h3" / "checkpoints" / "best.pt", checkpoints / "multi.pt")
    (checkpoints / "broken.pt").write_bytes(b"not a checkpoint")
    outside = tmp / "outside.pt"
    shutil.copyfile(trained_artifact, outside)
    (checkpoints / "outside.pt").symlink_to(outside)
    with live_server(checkpoints) as url:
        yield {"url": url, "dir": checkpoints, "outside": outside}


@pytest.fixture(scope="module")
def client(served: dict) -> httpx.Client:
    with httpx.Client(base_url=served["url"], timeout=30) as c:
        yield c


def test_reference_body_gets_the_forecast_and_its_context(client: httpx.Client, served: dict) -> None:
    values = sample_closes(40)
    r = client.post(
        "/predict", json={"values": values, "checkpoint_path": "checkpoints/best.pt", "device": "cpu"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    expected = Forecaster(load_artifact(served["dir"] / "best.pt")).predict(values)
    assert body["prediction"] == expected["prediction"]
    assert body["predictions"] == expected["predictions"]
    assert body["checkpoint"] == "best.pt" and body["device"] == "cpu"
    assert body["window"] == 10 and body["horizon"] == 1 and body["horizon_max"] == 1
    assert body["ticker"] == "AAPL" and body["feature"] in ("Adj Close", "Close")
    assert set(body["data"]) == {"start", "end", "train_end", "val_end"} and body["data"]["start"]
    assert set(body["metrics"]) == {"mae", "rmse", "mape", "mase"}
    assert all(isinstance(v, float) and v >= 0 for v in body["metrics"].values())
    assert float(r.headers["X-Response-Time-ms"]) >= 0


@pytest.mark.parametrize("reference", ["best", "best.pt", "checkpoints/best.pt", " best.pt ", None, "multi"])
def test_checkpoint_name_forms(client: httpx.Client, reference: str | None) -> None:
    body = {"values": sample_closes(10)}
    if reference is not None:
        body["checkpoint_path"] = reference
    r = client.post("/predict", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["checkpoint"] == ("multi.pt" if reference == "multi" else "best.pt")


@pytest.mark.parametrize(
    "reference",
    [
        "/etc/passwd",
        "../best.pt",
        "checkpoints/../best.pt",
        "..",
        "/app/checkpoints/best.pt",
        "other/best.pt",
        "C:\\checkpoints\\best.pt",
        "best.pt\x00.txt",
        "outside",  # a link pointing out of the directory
        "outside.pt",
        "broken.pt",  # fails to load, so it is not served
        "missing",
        "train.py",
    ],
)
def test_anything_but_a_loaded_name_is_404(client: httpx.Client, served: dict, reference: str) -> None:
    r = client.post("/predict", json={"values": sample_closes(10), "checkpoint_path": reference})
    assert r.status_code == 404, r.text
    detail = r.json()["detail"]
    assert repr(reference.strip())[1:-1][:8] in detail or "refused" in detail
    assert "best.pt" in detail  # it says what is loaded


def test_multi_step_and_interval(client: httpx.Client, served: dict) -> None:
    values = sample_closes(30)
    r = client.post(
        "/predict", json={"values": values, "checkpoint_path": "multi", "horizon": 3, "interval": 0.9}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    expected = Forecaster(load_artifact(served["dir"] / "multi.pt")).predict(values, horizon=3, interval=0.9)
    assert body["predictions"] == expected["predictions"] and len(body["predictions"]) == 3
    assert body["horizon"] == 3 and body["horizon_max"] == 3
    assert all(lo <= p for lo, p in zip(body["lower"], body["predictions"], strict=True))


WINDOW = 10
GOOD = sample_closes(WINDOW)


def test_health_lists_the_loaded_models(client: httpx.Client) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["models"] == ["best.pt", "multi.pt"]


def test_models_reports_metadata_and_what_was_refused(client: httpx.Client, served: dict) -> None:
    body = client.get("/models").json()
    by_name = {m["name"]: m for m in body["models"]}
    assert set(by_name) == {"best.pt", "multi.pt"}
    best = by_name["best.pt"]
    assert best["sha256"] == hashlib.sha256((served["dir"] / "best.pt").read_bytes()).hexdigest()
    assert best["window"] == 10 and best["ticker"] == "AAPL" and best["model"]["hidden"] == 8
    assert {"test/mae", "test/rmse", "test/mape", "test/mase"} <= set(best["metrics"])
    assert "state_dict" not in best and "residuals" not in best
    assert "broken.pt" in body["errors"] and "outside" in body["errors"]["outside.pt"]
    assert str(served["dir"]) not in json.dumps(body)  # names only, no paths


def test_the_answer_says_what_produced_the_point_forecast(client: httpx.Client) -> None:
    values = sample_closes(40)
    body = client.post("/predict", json={"values": values, "quantiles": [0.5]}).json()
    point = body["point"]
    assert point["source"] in ("naive", "network", "shrunk") and point["why"]
    assert point["source"] == {0.0: "naive", 1.0: "network"}.get(point["shrink"], "shrunk")
    if point["source"] == "naive":  # the tiny run's guard finds no edge: the last value sent, said so
        assert body["prediction"] == pytest.approx(values[-1], rel=1e-12)
        assert point["why"].startswith("the naive forecast (the last price sent, at every step), because ")
    batch = client.post("/predict/batch", json={"items": [{"values": values}]}).json()
    assert batch["items"][0]["point"] == point
    models = {m["name"]: m for m in client.get("/models").json()["models"]}
    (series,) = models["best.pt"]["series"]
    assert series["point"] == point
    assert series["serves"]["kind"] in ("network", "baseline", "combination")


def undescribed(schema: dict, components: dict, where: str, seen: set[str]) -> list[str]:
    """Paths of the properties under `schema` (refs followed once) that carry no description."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return undescribed(components[name], components, name, seen)
    missing = []
    for key, prop in schema.get("properties", {}).items():
        if not prop.get("description"):
            missing.append(f"{where}.{key}")
        missing += undescribed(prop, components, f"{where}.{key}", seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            missing += undescribed(sub, components, where, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            missing += undescribed(schema[key], components, where, seen)
    return missing


def test_every_field_of_the_forecast_routes_is_described_in_openapi(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    components, missing, seen = spec["components"]["schemas"], [], set()
    for path, method in (("/predict", "post"), ("/predict/batch", "post"), ("/models", "get")):
        operation = spec["paths"][path][method]
        bodies = [operation.get("requestBody", {}).get("content", {}).get("application/json", {})]
        bodies += [r.get("content", {}).get("application/json", {}) for r in operation["responses"].values()]
        for body in bodies:
            if "schema" in body:
                missing += undescribed(body["schema"], components, path, seen)
    assert {"PredictResponse", "BatchResponse", "ModelsResponse", "PointSource"} <= seen
    assert missing == []


def test_metrics_count_requests_latency_inference_and_resources(client: httpx.Client) -> None:
    def scrape() -> str:
        r = client.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        return r.text

    ok = {"method": "POST", "handler": "/predict", "status": "2xx"}
    bad = {**ok, "status": "4xx"}
    before = scrape()
    for _ in range(3):
        assert client.post("/predict", json={"values": GOOD}).status_code == 200
    assert client.post("/predict", json={"values": GOOD[:2]}).status_code == 422
    assert client.get("/no/such/page").status_code == 404
    total = "http_requests_total"
    duration = "http_request_duration_seconds_count"

    def counted(text: str) -> bool:
        return (
            sample(text, total, **ok) - sample(before, total, **ok) >= 3
            and sample(text, total, **bad) - sample(before, total, **bad) >= 1
            and sample(text, total, handler="none", status="4xx") >= 1
            and sample(text, duration, handler="/predict", method="POST") >= 4
        )

    after = scrape_until(scrape, counted)
    assert sample(after, total, **ok) - sample(before, total, **ok) == 3
    assert sample(after, total, **bad) - sample(before, total, **bad) == 1
    assert sample(after, total, handler="none", status="4xx") >= 1  # unknown URLs share one label
    assert sample(after, duration, handler="/predict", method="POST") >= 4
    assert sample(after, "closecast_inference_seconds_count", checkpoint="best.pt") >= 3
    assert sample(after, "process_resident_memory_bytes") > 10_000_000
    assert sample(after, "process_cpu_seconds_total") > 0
    assert sample(after, "closecast_models_loaded") == 2


def test_reload_picks_up_published_checkpoints_without_a_restart(client: httpx.Client, served: dict) -> None:
    late = served["dir"] / "late.pt"
    body = {"values": GOOD, "checkpoint_path": "late"}
    try:
        shutil.copyfile(served["dir"] / "best.pt", late)
        # Not read on request: until the reload, the new file is not served.
        assert client.post("/predict", json=body).status_code == 404
        r = client.post("/models/reload")
        assert r.status_code == 200 and r.json()["added"] == ["late.pt"]
        assert client.post("/predict", json=body).json()["checkpoint"] == "late.pt"
        late.unlink()
        assert client.post("/models/reload").json()["removed"] == ["late.pt"]
        assert client.post("/predict", json=body).status_code == 404
    finally:
        late.unlink(missing_ok=True)
        client.post("/models/reload")


def test_a_republished_file_that_fails_keeps_the_previous_version(client: httpx.Client, served: dict) -> None:
    target = served["dir"] / "multi.pt"
    saved = target.read_bytes()
    try:
        target.write_bytes(b"half a file")
        report = client.post("/models/reload").json()
        assert "multi.pt" in report["loaded"] and "previous version" in report["errors"]["multi.pt"]
        assert client.post("/predict", json={"values": GOOD, "checkpoint_path": "multi"}).status_code == 200
    finally:
        target.write_bytes(saved)
        client.post("/models/reload")


@pytest.mark.slow  # a server of its own: a process start
def test_empty_directory_is_503_until_a_checkpoint_appears(trained_artifact: Path, tmp_path: Path) -> None:
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    with live_server(checkpoints, RELOAD_INTERVAL="0.3") as url:
        r = httpx.get(f"{url}/health")
        assert r.status_code == 503 and "make train" in r.json()["detail"]
        r = httpx.post(f"{url}/predict", json={"values": GOOD})
        assert r.status_code == 503 and "no checkpoint" in r.json()["detail"]
        shutil.copyfile(trained_artifact, checkpoints / "best.pt")  # the watch finds it, no call needed
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/health").status_code != 200:
            assert time.monotonic() < deadline, "the published checkpoint was not picked up"
            time.sleep(0.2)
        assert httpx.post(f"{url}/predict", json={"values": GOOD}).status_code == 200


def module_forecast(artifact: dict, window: torch.Tensor) -> list[float]:
    """What the network module itself says: `net(codec.encode(window))` (a likelihood head's location),
    decoded."""
    from closecast.data.codec import Codec
    from closecast.models.lstm import LSTMForecaster

    net = LSTMForecaster(**artifact["model"])
    net.load_state_dict(artifact["state_dict"])
    ((_, record),) = artifact["series"].items()
    codec = Codec.from_dict(record["codec"])
    with torch.no_grad():
        out = net.likelihood.location(net.eval()(codec.encode(window).unsqueeze(0)))
        return codec.decode(out, window[-1:], record["calibration"]["shrink"])[0].tolist()


def test_artifact_answers_bit_identically_to_the_module_forward(
    trained_artifact: Path, client: httpx.Client
) -> None:
    """The served number is the module's own forward on the codec's encoding, decoded: no second copy."""
    from closecast.artifacts.schema import build_artifact
    from closecast.data.codec import Codec
    from closecast.distributions.calibration import Calibration
    from closecast.models.lstm import LSTMForecaster

    torch.manual_seed(0)
    net = LSTMForecaster(hidden=64, layers=2, dropout=0.1, horizon=2)
    torch.nn.init.normal_(net.head.weight, std=0.1)
    prices = torch.tensor(sample_closes(400), dtype=torch.float64)
    codec = Codec.fit(prices[:300], "return", 30, 2)
    default = build_artifact(net, codec, Calibration(torch.zeros(5, 2)), {"ticker": "AAPL"}, {})
    published = load_artifact(trained_artifact)
    for artifact in (published, default):
        forecaster = Forecaster(artifact)
        for start in range(0, 300, 37):
            window = prices[start : start + artifact["window"]]
            expected = module_forecast(artifact, window)
            got = forecaster.predict(window.tolist(), horizon=artifact["horizon"])["predictions"]
            assert got == expected and all(math.isfinite(v) for v in expected)
    # Over HTTP too: the JSON answer carries the same floats.
    window = prices[:10]
    answer = client.post("/predict", json={"values": window.tolist()}).json()
    assert answer["predictions"] == module_forecast(published, window)


def test_an_unexpected_failure_is_a_500_with_a_body_and_is_counted(
    served: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from closecast.inference.forecaster import Forecaster as ForecasterClass
    from closecast.serving.app import create_app

    app = create_app(Settings(checkpoints_dir=served["dir"], reload_interval=0))

    def broken(self: ForecasterClass, windows: np.ndarray) -> np.ndarray:
        raise RuntimeError("kernel failed")

    with TestClient(app, raise_server_exceptions=False) as local:
        monkeypatch.setattr(ForecasterClass, "outputs", broken)  # the one network call of a request
        r = local.post("/predict", json={"values": GOOD})
        assert r.status_code == 500 and r.json() == {"detail": "internal server error"}
        metrics = local.get("/metrics").text
    assert sample(metrics, "http_requests_total", handler="/predict", status="5xx") >= 1


def test_quantiles_are_monotone_and_the_same_as_predict_next_from_values(
    client: httpx.Client, served: dict
) -> None:
    from closecast import predict_next_from_values

    values = sample_closes(60)
    levels = [0.05, 0.25, 0.5, 0.75, 0.95]
    for name, horizon in (("best.pt", 1), ("multi.pt", 3)):
        body = {"values": values, "checkpoint_path": name, "horizon": horizon, "quantiles": levels}
        r = client.post("/predict", json={**body, "interval": 0.9})
        assert r.status_code == 200, r.text
        answer = r.json()
        assert list(answer["quantiles"]) == ["0.05", "0.25", "0.5", "0.75", "0.95"]
        table = np.array([answer["quantiles"][k] for k in answer["quantiles"]])  # (levels, horizon)
        assert table.shape == (5, horizon) and np.all(np.diff(table, axis=0) > 0)
        # The 90% interval comes from the same calibrated distribution as the 5% and 95% quantiles.
        assert answer["lower"] == pytest.approx(answer["quantiles"]["0.05"], rel=1e-6)
        assert answer["upper"] == pytest.approx(answer["quantiles"]["0.95"], rel=1e-6)
        _, meta = predict_next_from_values(values, served["dir"] / name, "cpu", quantiles=levels)
        if horizon == 1:
            assert meta["quantiles"] == answer["quantiles"]
