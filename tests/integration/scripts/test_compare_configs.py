"""`python -m reports.compare_configs` (its main, in this process) ranks candidates on validation only,
keeps finished runs, and shows test scores only when asked."""

from __future__ import annotations

import json

import pytest

from reports.compare_configs import main

TINY = "data.start=2009-01-01 data.window=10 trainer.max_epochs=2 trainer.accelerator=cpu"


def run_script(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """What `python -m reports.compare_configs args…` prints on stdout (its main, in this process)."""
    capsys.readouterr()
    main(list(args))
    return capsys.readouterr().out


def test_candidates_are_ranked_on_validation_and_rerun_only_when_new(tmp_path, capsys):
    log = tmp_path / "runs.jsonl"
    candidates = [f"hidden 4: {TINY} model.hidden=4", f"hidden 8: {TINY} model.hidden=8"]
    args = [*candidates, "--tickers", "AAPL", "--log", str(log)]

    first = run_script(capsys, *args)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["overrides"][-1] for r in rows] == ["model.hidden=4", "model.hidden=8"]
    # Two different networks, two different validation scores: the table measures the candidates.
    assert rows[0]["val/raw/crps"] != rows[1]["val/raw/crps"]
    assert not any(k.startswith("test/") for r in rows for k in r)
    table = first.strip().splitlines()
    assert table[0].startswith("| candidate | AAPL | mean val CRPS / EWMA")
    assert "test" not in first  # neither a test column nor the training runs' test tables
    ratio = rows[0]["val/raw/crps"] / rows[0]["val/ewma/crps"]
    assert table[2].startswith(f"| hidden 4 | {ratio:.4f} | **{ratio:.4f}** |")

    again = run_script(capsys, *args)
    assert len(log.read_text().splitlines()) == 2  # nothing retrained
    assert again == first

    shown = run_script(capsys, candidates[0], "--tickers", "AAPL", "--log", str(log), "--show-test")
    assert "mean test / EWMA" in shown
    assert "test/raw/crps" in json.loads(log.read_text().splitlines()[-1])


def test_a_candidate_without_a_name_is_refused_with_the_form_to_use(tmp_path):
    with pytest.raises(SystemExit, match="'model.hidden=4': write it as 'name: override override …'"):
        main(["model.hidden=4", "--log", str(tmp_path / "runs.jsonl")])
    assert not (tmp_path / "runs.jsonl").exists()
