"""The likelihood head end to end: input features in the codec, NLL training, distribution scores beside
the volatility baselines, and the quantile recalibration stored in the artifact."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient

from closecast.artifacts.schema import ArtifactError, check_artifact, load_artifact
from closecast.data.codec import Codec
from closecast.distributions.predictive import LogReturnForecast, log_return_quantiles
from closecast.evaluation.distribution_scores import outcome
from closecast.inference.forecaster import Forecaster
from closecast.serving.app import create_app
from closecast.serving.settings import Settings
from closecast.training.run import train
from closecast.training.trainer import build
from tests.helpers.configs import compose_train, sample_closes

LEVELS = ("05", "25", "50", "75", "95")
COVERAGES = ("50", "80", "90", "95")


@pytest.fixture(scope="module")
def student_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("student")
    # Recalibration always on: the artifact test below reads its PIT values.
    return tmp, train(compose_train(tmp, ["calibration.recalibrate=always", "publish=true"]))


def _prices(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return torch.tensor(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))))


def test_codec_features_are_the_return_its_magnitude_and_the_deviation_from_a_trailing_mean():
    prices = _prices()
    codec = Codec.fit(prices[:200], "return", 30, 1, ["return", "abs_return", "ma_dev"], ma_window=5)
    x = codec.encode(prices[None, 100:130])[0].double()
    assert x.shape == (29, 3)
    log_p = pd.Series(prices[100:130].log().numpy())
    returns = log_p.diff().to_numpy()[1:]
    assert np.allclose(x[:, 0], (returns - codec.mean) / codec.std, atol=1e-5)
    assert np.allclose(x[:, 1], np.abs(returns) / codec.feature_std[1], atol=1e-5)
    # Past the first ma_window prices of the window, the deviation is from a full trailing mean.
    dev = (log_p - log_p.rolling(5).mean()).to_numpy()[1:]
    assert np.allclose(x[4:, 2], dev[4:] / codec.feature_std[2], atol=1e-5)
    assert codec.feature_std[0] == 1.0 and all(s > 0 for s in codec.feature_std)


def test_a_codec_without_features_encodes_as_before_and_bad_features_are_named():
    prices = _prices()
    new = Codec.fit(prices[:200], "return", 10, 1)
    old = {k: v for k, v in new.to_dict().items() if k not in ("features", "ma_window", "feature_std")}
    codec = Codec.from_dict(old)
    assert codec.features == ["return"] and codec.n_features == 1
    expected = (torch.diff(prices[:10].log()) - codec.mean) / codec.std
    assert torch.allclose(codec.encode(prices[None, :10])[0, :, 0], expected.float())
    with pytest.raises(ValueError, match="high_low"):
        Codec.fit(prices[:200], "return", 10, 1, ["return", "high_low"])


def test_default_run_trains_by_nll_and_scores_its_distribution_beside_the_baselines(student_run):
    tmp, metrics = student_run  # the default head: Student-t
    saved = json.loads((tmp / "run" / "metrics.json").read_text())
    quantile_keys = [f"pinball_{p}" for p in LEVELS]
    quantile_keys += [f"{k}_{c}" for c in COVERAGES for k in ("coverage", "winkler")]
    for head in (
        "test/raw",
        "test/constant",
        "test/ewma",
        "test/garch",
        "test/egarch_t",
        "val/raw",
        "val/garch",
    ):
        for key in ["crps", "nll", "qlike", "skill", *quantile_keys]:
            assert np.isfinite(saved[f"{head}/{key}"]), f"{head}/{key}"
    for head in ("test/served", "test/egarch_t/served", "test/gjr_t_refit/served", "val/served"):
        for key in ["crps", "skill", *quantile_keys]:
            assert np.isfinite(saved[f"{head}/{key}"]), f"{head}/{key}"
    # Against the reference: a ratio, a DM test, the model confidence set, VaR and PIT tests.
    assert saved["test/served/vs_reference"] > 0 and 0 <= saved["test/served/dm_p"] <= 1
    assert saved["test/served/in_mcs"] in (0.0, 1.0) and 0 <= saved["test/served/pit_p"] <= 1
    for level in ("01", "05"):
        for key in ("rate", "kupiec", "independence", "conditional"):
            assert 0 <= saved[f"test/served/var{level}/{key}"] <= 1
    assert saved["recalibrated"] == 1.0
    assert saved["test/constant/skill"] == 0.0
    assert saved["test/raw/skill"] == pytest.approx(1 - saved["test/raw/crps"] / saved["test/constant/crps"])
    # Recalibrated on validation: the 90% interval is neither empty nor everything.
    assert 0.7 < saved["test/served/coverage_90"] < 1.0
    assert saved["test/coverage"] == saved["test/served/coverage_90"]  # calibration.interval is 0.9 here
    # val/loss is the validation NLL on the normalized scale; a Student-t NLL can be negative.
    assert np.isfinite(saved["val/loss"])


def test_the_artifact_carries_the_head_the_features_and_the_recalibration(student_run):
    tmp, _ = student_run
    artifact = load_artifact(tmp / "checkpoints" / "best.pt")  # weights-only load + schema check
    assert artifact["model"]["likelihood"] == "student_t" and artifact["model"]["input_size"] == 3
    record = artifact["series"]["AAPL"]
    assert record["codec"]["features"] == ["return", "abs_return", "ma_dev"]
    pit = record["calibration"]["pit"]
    assert pit.ndim == 2 and pit.shape[1] == 1 and bool((pit[1:] >= pit[:-1]).all())
    broken = {**artifact, "series": {"AAPL": dict(record)}}
    broken["series"]["AAPL"]["calibration"] = {**record["calibration"], "pit": pit + 2}
    with pytest.raises(ArtifactError, match="probabilities"):
        check_artifact(broken)


def test_point_network_keeps_conformal_intervals_and_still_scores_the_baselines(tmp_path):
    metrics = train(
        compose_train(tmp_path, ["model.likelihood=none", "data.features=[return]", "publish=true"])
    )
    assert "test/served/crps" not in metrics and np.isfinite(metrics["test/garch/crps"])
    artifact = load_artifact(tmp_path / "checkpoints" / "best.pt")
    record = artifact["series"]["AAPL"]
    assert record["calibration"]["pit"] is None and artifact["model"]["likelihood"] == "none"
    # An artifact from before the head (no likelihood, codec without features) still validates and
    # answers exactly as the same network does with the new keys.
    values = np.exp(np.linspace(4.0, 4.2, 40)).tolist()
    expected = Forecaster(artifact).predict(values, interval=0.9)
    artifact["model"].pop("likelihood")
    for key in ("features", "ma_window", "feature_std"):
        record["codec"].pop(key)
    check_artifact(artifact)
    assert Forecaster(artifact).predict(values, interval=0.9) == expected


@pytest.mark.slow  # a training run of its own
def test_a_skewed_t_run_scores_its_skew_publishes_it_and_predict_answers_from_it(tmp_path):
    metrics = train(compose_train(tmp_path, ["model.likelihood=skewed_t", "publish=true"]))
    for key in ("val/raw/crps", "val/raw/nll", "val/raw/qlike", "val/served/crps", "test/served/pit_p"):
        assert np.isfinite(metrics[key]), key
    artifact = load_artifact(tmp_path / "checkpoints" / "best.pt")
    assert artifact["model"]["likelihood"] == "skewed_t"
    assert artifact["state_dict"]["head.weight"].shape[0] == 4  # location, scale, df and skew
    settings = Settings(checkpoints_dir=tmp_path / "checkpoints", reload_interval=0)
    with TestClient(create_app(settings)) as client:
        body = {"values": sample_closes(60), "interval": 0.9, "quantiles": [0.05, 0.5, 0.95]}
        response = client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    q = [answer["quantiles"][k][0] for k in ("0.05", "0.5", "0.95")]
    assert 0 < answer["lower"][0] < q[1] < answer["upper"][0] and q[0] < q[1] < q[2]


def test_recalibrated_quantiles_follow_the_validation_pit_and_stay_monotone():
    rng = np.random.default_rng(1)
    y = rng.standard_t(4, size=(500, 1)) * 0.02
    # A forecast too narrow for its fat tails: its raw 90% interval under-covers, the recalibrated one not.
    fc = LogReturnForecast(np.zeros_like(y), np.full_like(y, 0.015))
    pit = np.sort(fc.cdf(y), axis=0)
    q = log_return_quantiles(fc, pit, [0.05, 0.5, 0.95])
    assert np.all(np.diff(q, axis=-1) > 0)
    inside = np.mean((y >= q[..., 0]) & (y <= q[..., 2]))
    raw = log_return_quantiles(fc, None, [0.05, 0.95])
    assert np.mean((y >= raw[..., 0]) & (y <= raw[..., 1])) < 0.8
    assert inside == pytest.approx(0.9, abs=0.01)
    assert outcome(np.array([100.0]), np.array([[110.0]]))[0, 0] == pytest.approx(np.log(1.1))


def test_what_is_scored_is_what_the_artifact_serves(student_run):
    """Every test sample answered by the published artifact from the closes up to its origin gives the
    interval the run scored: the same coverage, the same served distribution, combination included."""
    tmp, metrics = student_run
    cfg = compose_train(tmp, ["calibration.recalibrate=always"])
    datamodule = build(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    member = next(iter(datamodule.members.values()))
    prices = member.series.to_numpy(dtype=np.float64)
    test = member.parts["test"]
    artifact = load_artifact(tmp / "checkpoints" / "best.pt")
    forecaster = Forecaster(artifact)
    serves = forecaster.metadata["serves"]["AAPL"]
    # This tiny seeded run combines the network with a baseline: the baseline part is exercised too.
    assert serves["kind"] == "combination" and 0 < serves["network_weight"] < 1
    assert serves["network_weight"] == metrics["served/weight"]
    assert serves["vs_reference"] == pytest.approx(metrics["test/served/vs_reference"])
    covered = []
    for i, anchor in enumerate(range(test.anchors.start, test.anchors.stop)):
        answer = forecaster.predict(prices[: anchor + 1].tolist(), interval=0.9)
        actual = float(test.future[i, 0])
        covered.append(answer["lower"][0] <= actual <= answer["upper"][0])
    assert np.mean(covered) == pytest.approx(metrics["test/coverage"], abs=1e-12)
    assert metrics["test/coverage"] == pytest.approx(metrics["test/served/coverage_90"], abs=1e-12)
