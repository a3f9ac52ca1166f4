"""`model.members`: K networks trained side by side on their own losses and served as one distribution."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from closecast.artifacts.publish import save_artifact
from closecast.artifacts.schema import build_artifact, load_artifact
from closecast.data.codec import Codec
from closecast.distributions.calibration import Calibration
from closecast.distributions.likelihood import Gaussian, StudentT
from closecast.distributions.predictive import log_return_forecast
from closecast.models.lstm import LSTMForecaster
from closecast.models.module import ForecastModule
from closecast.serving.registry import Registry
from tests.helpers.configs import compose_train, sample_closes

LEVELS = torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95])


def random_ensemble(likelihood: str, members: int = 3, horizon: int = 2) -> LSTMForecaster:
    """An untrained ensemble whose heads compute something (they start at zero, the naive forecast)."""
    torch.manual_seed(0)
    net = LSTMForecaster(
        hidden=6, layers=1, input_size=2, horizon=horizon, likelihood=likelihood, members=members
    )
    for member in net.ensemble:
        torch.nn.init.normal_(member["head"].weight, std=0.5)
        torch.nn.init.normal_(member["head"].bias, std=0.5)
    return net


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny members=3 run, published into its own checkpoints folder."""
    from closecast.training.run import train

    tmp = tmp_path_factory.mktemp("ensemble")
    train(compose_train(tmp, ["model.members=3", "publish=true"]))
    return tmp / "checkpoints"


def test_the_combined_gaussian_is_the_quantile_average_of_the_members() -> None:
    net = random_ensemble("gaussian")
    x = torch.randn(7, 10, 2)
    with torch.no_grad():
        members = [Gaussian().predictive(out).distribution() for out in net.member_outputs(x)]
        combined = Gaussian().predictive(net(x)).distribution()
    levels = LEVELS.view(-1, 1, 1)
    average = torch.stack([d.icdf(levels) for d in members]).mean(dim=0)
    torch.testing.assert_close(combined.icdf(levels), average, rtol=1e-5, atol=1e-5)
    # The members disagree, so the average is not any one of them.
    assert not torch.allclose(members[0].icdf(levels), average, atol=1e-3)


def test_the_combined_student_t_averages_location_scale_and_degrees_of_freedom() -> None:
    net = random_ensemble("student_t")
    x = torch.randn(7, 10, 2)
    with torch.no_grad():
        members = [StudentT().predictive(out) for out in net.member_outputs(x)]
        combined = StudentT().predictive(net(x))
    for name in ("loc", "scale", "df"):
        average = torch.stack([getattr(m, name) for m in members]).mean(dim=0)
        torch.testing.assert_close(getattr(combined, name), average, rtol=1e-5, atol=1e-5)


def test_a_point_ensemble_averages_the_point_forecasts() -> None:
    net = random_ensemble("none")
    x = torch.randn(7, 10, 2)
    with torch.no_grad():
        torch.testing.assert_close(net(x), torch.stack(net.member_outputs(x)).mean(dim=0))


@pytest.mark.parametrize("members", [0, -1, 2.5, True])
def test_a_bad_member_count_names_the_key(members: object) -> None:
    with pytest.raises(ValueError, match=r"model.members=.* whole number >= 1"):
        LSTMForecaster(hidden=4, members=members)  # type: ignore[arg-type]


def test_each_member_gets_the_gradient_of_its_own_loss_only() -> None:
    net = random_ensemble("student_t", members=3, horizon=1)
    module = ForecastModule(net=net, likelihood=net.likelihood, optimizer=partial(torch.optim.Adam, lr=1e-3))
    x, y = torch.randn(16, 10, 2), torch.randn(16, 1)
    module.training_step((x, y), 0).backward()
    together = [[p.grad.clone() for p in m.parameters()] for m in net.ensemble]
    for k, member in enumerate(net.ensemble):
        net.zero_grad()
        # The training loss is the members' mean: member k's share is its own loss over 3.
        (module.loss_fn(net.member_outputs(x)[k], y) / 3).backward()
        for got, alone in zip(together[k], member.parameters(), strict=True):
            torch.testing.assert_close(got, alone.grad)
        others = [p.grad for j, m in enumerate(net.ensemble) if j != k for p in m.parameters()]
        assert all(g is None or not g.any() for g in others)


def test_members_train_apart_and_the_served_answer_is_the_modules_forward(trained: Path) -> None:
    artifact = load_artifact(trained / "best.pt")  # weights_only=True, as the server loads it
    assert artifact["model"]["members"] == 3
    state = artifact["state_dict"]
    heads = [state[f"ensemble.{k}.head.weight"] for k in range(3)]
    lstms = [state[f"ensemble.{k}.lstm.weight_hh_l0"] for k in range(3)]
    # Every head started at zero: training moved each, and each its own way.
    assert all(h.abs().sum() > 0 for h in heads)
    assert not torch.equal(heads[0], heads[1]) and not torch.equal(heads[1], heads[2])
    assert not torch.equal(lstms[0], lstms[1])

    registry = Registry(trained)
    registry.reload()
    forecaster = registry.resolve("best").forecaster(None)
    net = LSTMForecaster(**artifact["model"])
    net.load_state_dict(state)
    module = ForecastModule(net=net.eval(), likelihood=net.likelihood, optimizer=partial(torch.optim.Adam))
    codec = Codec.from_dict(artifact["series"]["AAPL"]["codec"])
    prices = torch.tensor(sample_closes(200), dtype=torch.float64)
    for start in (0, 57, 133):
        window = prices[start : start + artifact["window"]]
        with torch.no_grad():
            raw = module(codec.encode(window).unsqueeze(0))
        shrink = forecaster.series["AAPL"].calibration.shrink
        expected = codec.decode(net.likelihood.location(raw), window[-1:], shrink)[0].tolist()
        answer = forecaster.predict(window.tolist(), quantiles=[0.05, 0.5, 0.95])
        assert answer["predictions"] == expected
        _, dist = forecaster.outputs(window.numpy()[None])
        want = log_return_forecast(codec, net.likelihood, raw, shrink)
        for name in ("loc", "scale", "df"):
            np.testing.assert_array_equal(getattr(dist, name), getattr(want, name))
        q = list(answer["quantiles"].values())
        assert q[0][0] < q[1][0] < q[2][0]


def test_an_artifact_without_members_loads_as_one_network(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = LSTMForecaster(hidden=8, layers=1, horizon=1)
    torch.nn.init.normal_(net.head.weight, std=0.1)
    prices = torch.tensor(sample_closes(300), dtype=torch.float64)
    codec = Codec.fit(prices[:200], "return", 20, 1)
    calibration = Calibration(torch.zeros(5, 1))
    artifact = build_artifact(net, codec, calibration, {"ticker": "AAPL"}, {})
    del artifact["model"]["members"]  # written before ensembles existed
    # The single network's weights keep the names they had before ensembles.
    assert set(artifact["state_dict"]) == {k for k, _ in net.named_parameters()}
    assert all(k.startswith(("lstm.", "head.")) for k in artifact["state_dict"])
    save_artifact(artifact, tmp_path / "old.pt")
    registry = Registry(tmp_path)
    registry.reload()
    forecaster = registry.resolve("old").forecaster(None)
    assert forecaster.net.members == 1
    window = prices[:20]
    with torch.no_grad():
        expected = codec.decode(net(codec.encode(window).unsqueeze(0)), window[-1:], 1.0)[0].tolist()
    assert forecaster.predict(window.tolist())["predictions"] == expected
