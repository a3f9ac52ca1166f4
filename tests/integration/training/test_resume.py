"""Resuming a run (`ckpt_path=`): only the same run, only with something left to train, never into the old
run's files, and a bad path is one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from closecast.errors import DataError, exit_on_data_error
from closecast.training.run import train
from tests.helpers.configs import compose_train

NO_STOP = "callbacks.early_stopping=null"


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-epoch run; its checkpoints folder."""
    tmp = tmp_path_factory.mktemp("first")
    train(compose_train(tmp, ["trainer.max_epochs=2", NO_STOP]))
    return tmp / "run" / "checkpoints"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_resume_writes_only_into_its_own_run_and_keeps_counting(first_run, tmp_path):
    before = snapshot(first_run)
    steps = torch.load(first_run / "last.ckpt", weights_only=False)["global_step"]
    metrics = train(
        compose_train(tmp_path, ["trainer.max_epochs=3", NO_STOP, f"ckpt_path={first_run / 'last.ckpt'}"])
    )
    assert snapshot(first_run) == before, "the resumed run changed the original run's checkpoints"
    after = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert (after["epoch"], after["global_step"]) == (2, 3 * steps // 2)
    assert metrics["epochs"] == 3


def test_a_resume_with_a_changed_window_is_refused_in_one_line(first_run, tmp_path):
    cfg = compose_train(
        tmp_path, ["data.window=20", "trainer.max_epochs=3", NO_STOP, f"ckpt_path={first_run / 'last.ckpt'}"]
    )
    with pytest.raises(DataError, match=r"data.window=10 \(now 20\).*resume with data.window=10") as err:
        train(cfg)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_resume_with_a_changed_model_is_refused(first_run, tmp_path):
    cfg = compose_train(
        tmp_path, ["model.hidden=16", "trainer.max_epochs=3", NO_STOP, f"ckpt_path={first_run / 'last.ckpt'}"]
    )
    with pytest.raises(DataError, match=r"model.hidden=8 \(now 16\)"):
        train(cfg)


def test_a_resume_of_a_finished_run_says_there_is_nothing_left_to_train(first_run, tmp_path):
    cfg = compose_train(
        tmp_path, ["trainer.max_epochs=2", NO_STOP, "publish=true", f"ckpt_path={first_run / 'last.ckpt'}"]
    )
    with pytest.raises(DataError, match="nothing left to train.*finished 2 epochs of trainer.max_epochs=2"):
        train(cfg)
    assert not (tmp_path / "checkpoints").exists(), "a resume that trains nothing published"


def test_a_resume_of_an_early_stopped_run_says_there_is_nothing_left_to_train(tmp_path):
    # lr=0: val/loss never improves on epoch 0's, so patience=1 stops the run after epoch 1.
    frozen = ["optimizer.lr=0.0", "callbacks.early_stopping.patience=1", "trainer.max_epochs=5"]
    train(compose_train(tmp_path / "a", frozen))
    last = tmp_path / "a" / "run" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["epoch"] < 4
    cfg = compose_train(tmp_path / "b", [*frozen, "publish=true", f"ckpt_path={last}"])
    with pytest.raises(
        DataError, match="nothing left to train.*stopped early.*callbacks.early_stopping=null"
    ):
        train(cfg)
    assert not (tmp_path / "b" / "checkpoints").exists()


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("missing.ckpt", None, "no such file"),
        ("garbage.ckpt", b"not a checkpoint", "not a Lightning checkpoint"),
    ],
)
def test_a_bad_ckpt_path_is_one_line(tmp_path, capsys, name, content, said):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SystemExit) as exited, exit_on_data_error():  # as train.py ends on it
        train(compose_train(tmp_path, [f"ckpt_path={path}"]))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: ckpt_path={path}: {said}") and err.count("\n") == 1, err


def test_a_serving_artifact_is_not_a_checkpoint_to_resume(first_run, tmp_path):
    model = first_run.parent / "model.pt"
    with pytest.raises(DataError, match="not a Lightning training checkpoint"):
        train(compose_train(tmp_path, [f"ckpt_path={model}"]))
