"""What a run writes when its output goes to a file (`make train > log 2>&1`, CI): plain lines, no progress
bar redraws, no Lightning notices, and the end-of-run tables in the run's own train.log."""

from __future__ import annotations

import re

import pytest

from closecast.training.progress import EpochLines, epoch_line
from tests.helpers.configs import ROOT, TINY
from tests.helpers.entries import run_entry


def test_a_run_logged_to_a_file_writes_epoch_lines_and_its_tables_to_train_log(tmp_path, capfd):
    # pytest's captured stdout is not a terminal, as a log file or CI's is not.
    args = [
        *(o for o in TINY if not o.startswith("trainer.")),
        "trainer.accelerator=cpu",
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=true",
        f"paths.log_dir={tmp_path / 'outputs'}",
        f"paths.checkpoints_dir={tmp_path / 'ckpts'}",
    ]
    proc = run_entry("train.py", *args, cwd=ROOT, capfd=capfd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = proc.stdout + proc.stderr
    assert "\r" not in printed
    assert "epoch 0 of 2: train/loss=" in printed and "epoch 1 of 2: train/loss=" in printed
    for notice in ("Tip:", "litlogger", "GPU available", "TPU available"):
        assert notice not in printed
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    # Named by its time, series and overrides (TensorBoard lists it so), not by where its files go.
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_AAPL_data\.batch_size=32,\S+", run.name)
    assert "paths." not in run.name and "/" not in run.name
    logged = (run / "train.log").read_text()
    assert "epoch 1 of 2: " in logged
    # The tables are in the log file, and on the console once.
    for line in ("\nnaive ", "90% interval coverage on test", f"run dir:  {run}"):
        assert line in logged
        assert printed.count(line) == 1, line


def test_an_epoch_line_names_each_value_and_the_epoch_budget():
    assert epoch_line(3, 40, {"val/loss": 1.3456, "train/loss": 1.46}, 0.42) == (
        "epoch 3 of 40: train/loss=1.46 val/loss=1.346 (0.4 s)"
    )
    assert epoch_line(1, -1, {}, 2.0) == "epoch 1: (2.0 s)"  # no epoch budget (max_epochs=-1)


def test_the_default_progress_bar_is_the_tqdm_bar_on_a_terminal_only(monkeypatch):
    from pytorch_lightning.callbacks import TQDMProgressBar

    from closecast.training.progress import progress_bar

    assert isinstance(progress_bar(), EpochLines)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    bar = progress_bar(refresh_rate=7)
    assert isinstance(bar, TQDMProgressBar) and bar.refresh_rate == 7
    assert isinstance(progress_bar(style="lines"), EpochLines)  # a sweep's trials, terminal or not
    with pytest.raises(ValueError, match=r"callbacks.progress_bar.style='dots': use one of auto, bar, lines"):
        progress_bar(style="dots")
