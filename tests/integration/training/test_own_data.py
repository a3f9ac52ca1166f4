"""Training on one's own export: the bundled AAPL closes written as a `;`-separated, decimal-comma CSV
with a `Timestamp` column, through `train.py` with the documented options only."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.helpers.configs import ROOT, TINY
from tests.helpers.entries import run_entry


@pytest.mark.slow  # a whole run, baselines fitted on data of its own
def test_train_runs_on_a_semicolon_decimal_comma_export_with_a_timestamp_column(tmp_path, capfd):
    sample = pd.read_csv(ROOT / "data" / "sample" / "AAPL.csv")
    sample = sample[sample.Date >= "2009-01-01"]
    export = pd.DataFrame({"Timestamp": sample.Date + " 16:00:00", "Close": sample["Adj Close"]})
    path = tmp_path / "aapl_export.csv"
    export.to_csv(path, sep=";", decimal=",", index=False)
    assert ";" in path.read_text().splitlines()[1] and "," in path.read_text().splitlines()[1]
    paths = [f"paths.log_dir={tmp_path / 'outputs'}", f"paths.checkpoints_dir={tmp_path / 'ckpts'}"]
    tiny = [o for o in TINY if not o.startswith("data.ticker")] + ["trainer.max_epochs=1"]
    proc = run_entry("train.py", *tiny, *paths, "data.source=csv", f"data.path={path}", cwd=ROOT, capfd=capfd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "outputs" / "train" / "runs").iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test/mase"] > 0
    assert f"data.path '{path}'" not in proc.stderr  # no refusal of the file
