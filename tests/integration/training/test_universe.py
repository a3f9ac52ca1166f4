"""The universe preset: the skfolio stocks, read offline from the installed package, one network on all
of them; beyond ten series the console shows their summary and the run dir holds each series' scores."""

from __future__ import annotations

import pandas as pd
import pytest

from closecast.training.run import train
from tests.helpers.configs import compose_train

TWELVE = "data.tickers=[AAPL,AMD,BAC,BBY,CVX,GE,HD,JNJ,JPM,KO,LLY,MSFT]"


@pytest.mark.slow
def test_universe_preset_summarizes_many_series(tmp_path, capsys):
    cfg = compose_train(
        tmp_path, ["experiment=universe", "debug=fast_dev_run", TWELVE, "data.start=2019-01-01"]
    )
    metrics = train(cfg)
    out = capsys.readouterr().out
    tickers = TWELVE.split("[")[1].rstrip("]").split(",")
    run = tmp_path / "run"
    scores = pd.read_csv(run / "series_scores.csv", index_col="series")
    assert list(scores.index) == tickers
    assert scores.loc["MSFT", "served_crps"] == metrics["MSFT/test/served/crps"]
    assert scores["served_crps"].mean() == pytest.approx(metrics["test/served/crps"], rel=1e-12)
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    for label in ("mean", "median", "worst", "best"):
        assert label in lines, out
    worst = scores["vs_reference"].idxmax()
    assert lines["worst"].endswith(f"  {worst}")
    # Each series' own tables go to a file, not to the console.
    tables = (run / "series_tables.txt").read_text()
    for ticker in tickers:
        assert f"\n{ticker} Close " in tables
        assert f"\n{ticker} Close " not in out
