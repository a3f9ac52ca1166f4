"""Local inference: predict_next_from_values and `python -m closecast.predict`, with their errors."""

import io
import json
import math
import sys
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from closecast import predict_next_from_values
from closecast.artifacts.schema import ArtifactError, load_artifact
from closecast.errors import InputError
from closecast.inference.forecaster import Forecaster
from tests.helpers.configs import ROOT

PRICES = pd.read_csv(ROOT / "data" / "sample" / "AAPL.csv")["Adj Close"].tolist()[-40:]


def test_artifact_loads_with_weights_only(trained_artifact):
    artifact = torch.load(trained_artifact, weights_only=True)
    assert artifact["format"] == "closecast.artifact/4" and list(artifact["series"]) == ["AAPL"]


def test_predict_next_from_values_matches_the_network(trained_artifact):
    value, meta = predict_next_from_values(PRICES, str(trained_artifact), "cpu")
    assert isinstance(value, float) and math.isfinite(value)
    assert meta["window"] == 10 and meta["ticker"] == "AAPL" and meta["device"] == "cpu"
    assert "test/mae" in meta["metrics"]
    # Same answer computed by hand from the artifact's parts.
    artifact = load_artifact(trained_artifact)
    f = Forecaster(artifact)
    window = torch.tensor(PRICES[-10:], dtype=torch.float64)
    with torch.no_grad():
        aapl = f.series["AAPL"]
        y = f.likelihood.location(f.net(aapl.codec.encode(window).unsqueeze(0)))
    expected = float(aapl.codec.decode(y, window[-1:], aapl.calibration.shrink)[0, 0])
    assert value == pytest.approx(expected, rel=1e-9)
    # Only the last `window` values matter.
    again, _ = predict_next_from_values([1.0] * 5 + PRICES[-10:], trained_artifact)
    assert again == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    "values, message",
    [
        ([1.0, 2.0], "at least window=10 values, got 2"),
        ([float("nan")] * 12, "must be finite; position 0 is nan"),
        ([100.0] * 11 + [float("inf")], "must be finite; position 11 is inf"),
        ([100.0] * 11 + [-1.0], "must be positive; position 11"),
        ([[1.0, 2.0]] * 12, "flat list"),
        (["a"] * 12, "flat list of numbers"),
    ],
)
def test_predict_rejects_bad_values(trained_artifact, values, message):
    with pytest.raises(InputError, match=message.replace("(", "\\(")):
        predict_next_from_values(values, trained_artifact)


def test_predict_errors_for_missing_file_and_bad_device(trained_artifact, tmp_path):
    with pytest.raises(FileNotFoundError, match="make train"):
        predict_next_from_values(PRICES, tmp_path / "none.pt")
    with pytest.raises(InputError, match="device 'tpu9'"):
        predict_next_from_values(PRICES, trained_artifact, device="tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="not available on this host"):
            predict_next_from_values(PRICES, trained_artifact, device="cuda")


def test_a_pickle_that_is_not_an_artifact_is_refused(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": "closecast.artifact/1", "obj": np.random.default_rng(0)}, evil)
    with pytest.raises(ArtifactError, match="not a weights-only closecast artifact"):
        load_artifact(evil)
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, plain)
    with pytest.raises(ArtifactError, match="format None"):
        load_artifact(plain)


def _cli(*args: str, stdin: str | None = None) -> SimpleNamespace:
    """`python -m closecast.predict <args>` in-process: its `main`, with stdin, stdout and stderr in memory
    (the module itself is run as printed in the README test)."""
    from closecast.inference.predict import main

    out, err, before = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
    finally:
        sys.stdin = before
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def test_cli_takes_values_from_arguments_stdin_and_csv(trained_artifact, tmp_path):
    expected, _ = predict_next_from_values(PRICES, trained_artifact)
    args = ["--checkpoint", str(trained_artifact)]
    out = _cli(*args, *map(str, PRICES))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["prediction"] == pytest.approx(expected)
    out = _cli(*args, stdin=",".join(map(str, PRICES)))
    assert out.returncode == 0 and json.loads(out.stdout)["prediction"] == pytest.approx(expected)
    csv = tmp_path / "p.csv"
    pd.DataFrame({"Date": pd.bdate_range("2020-01-01", periods=40), "Close": PRICES}).to_csv(csv, index=False)
    out = _cli(*args, "--csv", str(csv), "--interval", "0.9")
    result = json.loads(out.stdout)
    assert result["prediction"] == pytest.approx(expected)
    assert result["lower"][0] < result["prediction"] < result["upper"][0]
    # What produced the number, as /predict says it.
    assert result["point"]["source"] in ("naive", "network", "shrunk") and result["point"]["why"]


def test_cli_errors_exit_2_with_a_message(trained_artifact):
    args = ["--checkpoint", str(trained_artifact)]
    out = _cli(*args, "1", "2", "3")
    assert out.returncode == 2 and "window=10" in out.stderr
    out = _cli(*args, *["100"] * 11, "nan")
    assert out.returncode == 2 and "finite" in out.stderr
    out = _cli(*args, *["100"] * 11, "abc")
    assert out.returncode == 2 and "'abc' is not a number" in out.stderr
    out = _cli("--checkpoint", "missing.pt", *["100"] * 12)
    assert out.returncode == 2 and "not found" in out.stderr


def _ragged(path):
    path.write_text("Date,Close\n2020-01-01,1.0\n2020-01-02,2.0,3.0,4.0\n")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_text(""), "is empty"),
        (lambda p: p.write_bytes(b"\x00\x01\x02binary"), "is a binary file"),
        (_ragged, "is not a well-formed CSV"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_text("Date,Open\n2020-01-01,1.0\n"), "name the price column with --column"),
    ],
    ids=["empty", "binary", "ragged", "directory", "no-price-column"],
)
def test_cli_bad_csv_is_one_error_line_and_exit_2(trained_artifact, tmp_path, capsys, make, message):
    from closecast.inference.predict import main

    bad = tmp_path / "bad.csv"
    make(bad)
    assert main(["--checkpoint", str(trained_artifact), "--csv", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --csv") and message in err and "bad.csv" in err
    assert len(err.splitlines()) == 1, err


def test_cli_warns_when_the_csv_is_another_ticker(trained_artifact, tmp_path, capsys):
    from closecast.inference.predict import main

    args = ["--checkpoint", str(trained_artifact), "--csv"]
    assert main([*args, str(ROOT / "data" / "sample" / "MSFT.csv")]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "'MSFT'" in err and "'AAPL'" in err
    assert main([*args, str(ROOT / "data" / "sample" / "AAPL.csv")]) == 0
    assert "warning" not in capsys.readouterr().err
    # A ticker column names the series, whatever the file is called.
    frame = pd.DataFrame(
        {"Date": pd.bdate_range("2020-01-01", periods=40), "Close": PRICES, "Ticker": "MSFT"}
    )
    frame.to_csv(tmp_path / "AAPL.csv", index=False)
    assert main([*args, str(tmp_path / "AAPL.csv")]) == 0
    assert "'MSFT'" in capsys.readouterr().err


def test_cli_quantiles_match_predict_next_from_values_and_bad_levels_exit_2(trained_artifact):
    levels = [0.05, 0.5, 0.95]
    _, meta = predict_next_from_values(PRICES, trained_artifact, quantiles=levels)
    low, mid, high = (meta["quantiles"][k][0] for k in ("0.05", "0.5", "0.95"))
    assert low < mid < high
    args = ["--checkpoint", str(trained_artifact), *map(str, PRICES)]
    proc = _cli(*args, "--quantiles", "0.05", "0.5", "0.95")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["quantiles"] == meta["quantiles"]
    bad = _cli(*args, "--quantiles", "1.5")
    assert bad.returncode == 2 and "quantile levels" in bad.stderr and "1.5" in bad.stderr
    with pytest.raises(InputError, match="quantile levels"):
        predict_next_from_values(PRICES, trained_artifact, quantiles=[0.0])


@pytest.mark.parametrize("kind", ["point", "level", "student_t"])
def test_cli_answers_a_quantile_level_within_a_rounding_of_0(kind, tmp_path):
    from closecast.artifacts.publish import save_artifact
    from tests.helpers.artifacts import tiny_artifact

    path = save_artifact(tiny_artifact(kind), tmp_path / "model.pt")
    out = _cli(
        "--checkpoint", str(path), *map(str, PRICES), "--quantiles", "1e-17", "0.5", "--interval", "0.9"
    )
    assert out.returncode == 0, out.stderr
    quantiles = json.loads(out.stdout)["quantiles"]
    assert 0 <= quantiles["1e-17"][0] <= quantiles["0.5"][0]


def test_cli_refuses_an_artifact_that_cannot_answer_with_one_line(tmp_path):
    from closecast.artifacts.publish import save_artifact
    from tests.helpers.artifacts import nan_weights, tiny_artifact

    path = save_artifact(nan_weights(), tmp_path / "nan.pt")
    out = _cli("--checkpoint", str(path), *map(str, PRICES))
    assert out.returncode == 2 and "not a finite number" in out.stderr and out.stderr.count("\n") == 1
    artifact = tiny_artifact("level")
    artifact["model"] = {**artifact["model"], "likelihood": "gaussian"}
    artifact["state_dict"] = tiny_artifact("gaussian")["state_dict"]
    path = save_artifact(artifact, tmp_path / "level.pt")
    out = _cli("--checkpoint", str(path), *map(str, PRICES), "--interval", "0.9")
    assert out.returncode == 2 and "needs data.target=return" in out.stderr, out.stderr
