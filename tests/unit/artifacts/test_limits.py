"""The largest artifact a server loads: what a file may weigh and declare, checked on plain data before
anything is allocated, and the same check refusing a file at publish."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from closecast.artifacts import limits
from closecast.artifacts.publish import main as publish_main
from closecast.artifacts.publish import save_artifact
from closecast.artifacts.schema import ArtifactError, check_artifact, load_artifact
from closecast.distributions.likelihood import LIKELIHOODS
from closecast.models.lstm import LSTMForecaster
from tests.helpers.artifacts import absurd_window, tiny_artifact


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    hidden=st.integers(1, 12),
    layers=st.integers(1, 3),
    input_size=st.integers(1, 5),
    horizon=st.integers(1, 4),
    likelihood=st.sampled_from(sorted(LIKELIHOODS)),
    members=st.integers(1, 3),
)
def test_the_weight_count_is_the_networks_own(hidden, layers, input_size, horizon, likelihood, members):
    net = LSTMForecaster(hidden, layers, 0.0, input_size, horizon, likelihood, members)
    assert limits.parameter_count(net.hparams) == sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda a: a.update(horizon=limits.MAX_HORIZON + 1), "horizon=1001 is over"),
        (lambda a: a["model"].update(hidden=limits.MAX_HIDDEN + 1), "model.hidden=4097 is over"),
        (lambda a: a["model"].update(layers=limits.MAX_LAYERS + 1), "model.layers=17 is over"),
        (lambda a: a["model"].update(members=limits.MAX_MEMBERS + 1), "model.members=65 is over"),
        (
            lambda a: a["model"].update(hidden=4000, layers=3),
            "the network has \\d+ weights, over the largest",
        ),
        (lambda a: a.update(series={f"S{i}": {} for i in range(limits.MAX_SERIES + 1)}), "10001 series"),
        (
            lambda a: a["series"]["AAPL"]["codec"].update(ma_window=10**9),
            "series 'AAPL': codec.ma_window=1000000000 is over",
        ),
    ],
)
def test_what_an_artifact_declares_beyond_a_limit_is_refused_before_it_is_built(declare, message):
    artifact = tiny_artifact("point")
    declare(artifact)
    with pytest.raises(ArtifactError, match=message) as err:
        check_artifact(artifact, "big.pt")
    assert err.match("big.pt: ") and err.match("within the limits of closecast.artifacts.limits")


def test_an_artifact_within_the_limits_passes() -> None:
    artifact = tiny_artifact("universe")
    assert limits.exceeded(artifact) is None and check_artifact(artifact) is artifact


def test_a_file_over_the_size_limit_is_refused_without_being_read(tmp_path: Path, monkeypatch) -> None:
    huge = tmp_path / "huge.pt"
    with huge.open("wb") as f:
        f.truncate(limits.MAX_FILE_BYTES + 1)  # sparse: no disk, and no read
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("the file was read"))
    with pytest.raises(ArtifactError, match=f"{limits.MAX_FILE_BYTES + 1} bytes, over the"):
        load_artifact(huge)


def test_the_publish_command_refuses_an_artifact_beyond_the_limits(tmp_path: Path, capsys) -> None:
    path = save_artifact(absurd_window(), tmp_path / "model.pt")
    assert publish_main([str(path), "--checkpoints-dir", str(tmp_path / "checkpoints")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "window=1000000000 is over the largest a server loads (10000)" in err
    assert not (tmp_path / "checkpoints").exists()
