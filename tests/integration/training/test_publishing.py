"""Publishing is a decision: a run publishes only when asked (`publish=true`, `make train`), never a smoke
or debug run, a multirun job or a model the server could not answer, and its last line says which and why."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from closecast.artifacts import limits
from closecast.artifacts.publish import main as publish_main
from closecast.artifacts.schema import ArtifactError, load_artifact
from closecast.training.run import train
from tests.helpers.configs import ROOT, TINY, compose_train
from tests.helpers.entries import run_entry


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_a_plain_run_does_not_publish_and_says_how_to(tmp_path, capsys):
    train(compose_train(tmp_path))
    assert not (tmp_path / "checkpoints").exists()
    line = last_line(capsys.readouterr().out)
    assert line.startswith("not published: a run publishes only when asked (publish=true")
    # The line's own command publishes it.
    command = line.split("to serve this one: python -m closecast.artifacts.publish ")[1].split()
    assert publish_main(command) == 0
    published = tmp_path / "checkpoints" / "best.pt"
    assert published.read_bytes() == (tmp_path / "run" / "model.pt").read_bytes()


def test_a_run_asked_to_publish_publishes_and_says_so(tmp_path, capsys):
    train(compose_train(tmp_path, ["publish=true"]))
    published = tmp_path / "checkpoints" / "best.pt"
    assert published.read_bytes() == (tmp_path / "run" / "model.pt").read_bytes()
    assert (
        last_line(capsys.readouterr().out) == f"published: {published} (publish=true); make serve serves it"
    )


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        (["+trainer.fast_dev_run=true"], "a smoke run (trainer.fast_dev_run)"),
        (["debug=limit"], "a debug run (trainer.limit_train_batches=3) trains on part of the training data"),
        (["debug=overfit", "trainer.max_epochs=2"], "a debug run (trainer.overfit_batches=2)"),
    ],
)
def test_smoke_and_debug_runs_never_publish_even_when_asked(tmp_path, capsys, overrides, said):
    train(compose_train(tmp_path, [*overrides, "publish=true"]))
    assert not (tmp_path / "checkpoints").exists()
    assert last_line(capsys.readouterr().out).startswith(f"not published: publish=true, but {said}")


def test_a_model_of_prices_the_server_refuses_is_not_published(tmp_path, capsys):
    frame = pd.read_csv(ROOT / "data" / "sample" / "AAPL.csv")
    frame["Adj Close"] = frame["Adj Close"] * 1e11  # every request of such prices is refused (above 1e12)
    path = tmp_path / "huge.csv"
    frame[["Date", "Adj Close"]].to_csv(path, index=False)
    train(compose_train(tmp_path, ["data.source=csv", f"data.path={path}", "publish=true"]))
    assert not (tmp_path / "checkpoints").exists()
    assert "above the largest price the server accepts (1e+12)" in last_line(capsys.readouterr().out)


def test_a_model_larger_than_the_server_loads_is_not_published(tmp_path, capsys, monkeypatch):
    # The server's own bound, lowered below the tiny run's hidden size (8): training reads the same one.
    monkeypatch.setitem(limits.BOUNDS, "model.hidden", 4)
    train(compose_train(tmp_path, ["publish=true"]))
    assert not (tmp_path / "checkpoints").exists()
    line = last_line(capsys.readouterr().out)
    assert line == (
        "not published: publish=true, but model.hidden=8 is over the largest a server loads (4), so the "
        "server would refuse the file; train a smaller model"
    )
    with pytest.raises(ArtifactError, match="model.hidden=8 is over"):
        load_artifact(tmp_path / "run" / "model.pt")


def test_the_publish_command_refuses_a_file_that_is_not_an_artifact(tmp_path, capsys):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not an artifact")
    assert publish_main([str(bad), "--checkpoints-dir", str(tmp_path / "ckpts")]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: ") and err.count("\n") == 1 and "not a weights-only closecast artifact" in err
    )
    assert publish_main([str(tmp_path / "missing.pt")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert publish_main([str(bad), "--name", "../x.pt"]) == 2
    assert not (tmp_path / "ckpts").exists()


def test_make_train_is_the_run_that_publishes():
    proc = subprocess.run(["make", "-n", "train", "STAMP=Makefile"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "train.py publish=true" in proc.stdout


def test_no_job_of_a_multirun_publishes(tmp_path, capfd):
    paths = [f"paths.log_dir={tmp_path / 'outputs'}", f"paths.checkpoints_dir={tmp_path / 'ckpts'}"]
    args = ["-m", *TINY, "trainer.max_epochs=1", "model.hidden=4,8", "publish=true", *paths]
    proc = run_entry("train.py", *args, cwd=ROOT, capfd=capfd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (tmp_path / "ckpts").exists()
    said = [line for line in proc.stdout.splitlines() if line.startswith("not published:")]
    assert len(said) == 2 and all("of a multirun: the last job to end would win" in s for s in said)
    jobs = sorted(Path(tmp_path / "outputs").rglob("model.pt"))
    assert [load_artifact(j)["model"]["hidden"] for j in jobs] == [4, 8]
