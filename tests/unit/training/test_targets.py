"""A config's `_target_`s: closecast's and its libraries' by default; a project's own classes once the
config lists them in `allowed_targets`, with an error that says so."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
from omegaconf import OmegaConf

from closecast.errors import DataError
from closecast.training.targets import allowed_patterns, build
from closecast.training.trainer import build_callbacks
from tests.helpers.configs import compose_train


class MyCallback(pl.Callback):
    """A user's own callback, defined outside closecast."""


TARGET = f"{__name__}.MyCallback"


def with_callback(tmp_path, *overrides: str):
    return compose_train(tmp_path, [f"+callbacks.mine._target_={TARGET}", *overrides])


def test_a_target_outside_the_trusted_packages_is_refused_saying_how_to_allow_it(tmp_path):
    with pytest.raises(
        DataError, match=r"'tests\.unit\.training\.test_targets\.MyCallback'.*allowed_targets="
    ) as err:
        build_callbacks(with_callback(tmp_path), tmp_path)
    assert "\n" not in str(err.value) and "trusted code" not in str(err.value)


@pytest.mark.parametrize("entry", ["tests.", "tests.*", "tests.unit.training.test_targets", TARGET])
def test_allowed_targets_lets_a_package_or_a_name_through(tmp_path, entry):
    callbacks = build_callbacks(with_callback(tmp_path, f"allowed_targets=[{entry}]"), tmp_path)
    assert any(isinstance(c, MyCallback) for c in callbacks)


def test_a_name_allows_only_itself_and_what_is_under_it(tmp_path):
    with pytest.raises(DataError, match="is not an allowed target"):
        build_callbacks(
            with_callback(tmp_path, "allowed_targets=[tests.unit.training.test_target]"), tmp_path
        )


@pytest.mark.parametrize("entries", ["tests.", ["*"], ["."]])
def test_a_malformed_allow_list_is_a_data_error(entries):
    with pytest.raises(DataError, match="allowed_targets"):
        allowed_patterns(entries)


def test_a_node_outside_a_config_builds_with_the_trusted_packages_only():
    assert build(OmegaConf.create({"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1}))
