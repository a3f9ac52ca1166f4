"""Several series in one network (`data.tickers`): each series normalized on its own training part, scored
on its own and served from the run's one artifact by its own record; one objective for a sweep; the usual
clear error for a bad ticker."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from closecast.artifacts.schema import load_artifact
from closecast.data.datamodule import PriceDataModule
from closecast.errors import DataError, exit_on_data_error
from closecast.serving.registry import Registry
from closecast.training.run import objective, train
from closecast.training.trainer import build
from tests.helpers.configs import ROOT, compose_train

PAIR = "data.tickers=[AAPL,IBM]"


@pytest.fixture(scope="module")
def pooled_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """One tiny pooled run on AAPL and IBM (published as best.pt)."""
    tmp = tmp_path_factory.mktemp("pooled")
    return tmp, train(compose_train(tmp, [PAIR, "publish=true"]))


def test_each_series_is_normalized_on_its_own_training_part(tmp_path):
    cfg = compose_train(tmp_path, [PAIR])
    pooled = build(cfg.data)
    pooled.setup("fit")
    for ticker, member in pooled.members.items():
        alone = build(cfg.data, ticker=ticker, tickers=None)
        alone.setup("fit")
        assert member.codec.to_dict() == alone.codec.to_dict()
        # The pooled parts hold every series' normalized samples, unchanged.
    assert pooled.members["AAPL"].codec.std != pooled.members["IBM"].codec.std
    sizes = {p: sum(len(m.parts[p]) for m in pooled.members.values()) for p in ("train", "val")}
    assert {p: len(pooled.parts[p]) for p in ("train", "val")} == sizes
    assert torch.equal(pooled.parts["train"].x[: len(pooled.members["AAPL"].parts["train"])],
                       pooled.members["AAPL"].parts["train"].x[:])  # fmt: skip
    assert "test" not in pooled.parts  # each series' test part is scored on its own, never fitted on


def test_a_change_in_one_series_test_prices_changes_nothing_before_it(tmp_path, pooled_run):
    run_dir, metrics = pooled_run
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data" / "sample", data / "sample")
    ibm = pd.read_csv(data / "sample" / "IBM.csv")
    ibm.loc[len(ibm) - 30 :, ["Close", "Adj Close"]] *= 1.5  # the last rows: inside IBM's test part
    ibm.to_csv(data / "sample" / "IBM.csv", index=False)
    changed = train(compose_train(tmp_path, [PAIR, f"data.data_dir={data}", "publish=false"]))

    before, after = load_artifact(run_dir / "run" / "model.pt"), load_artifact(tmp_path / "run" / "model.pt")
    for ticker in ("AAPL", "IBM"):
        assert after["series"][ticker]["codec"] == before["series"][ticker]["codec"]
    for name, weight in before["state_dict"].items():
        assert torch.equal(after["state_dict"][name], weight)
    for key in ("test/served/crps", "test/mae", "test/served/coverage_90", "val/served/crps", "shrink"):
        assert changed[f"AAPL/{key}"] == metrics[f"AAPL/{key}"]
    assert changed["IBM/val/served/crps"] == metrics["IBM/val/served/crps"]
    assert changed["val/loss"] == metrics["val/loss"]
    assert changed["IBM/test/mae"] != metrics["IBM/test/mae"]  # the change did reach IBM's test part


def test_metrics_per_series_with_their_mean_and_unlike_a_single_series_run(pooled_run, tiny_run):
    run_dir, metrics = pooled_run
    saved = json.loads((run_dir / "run" / "metrics.json").read_text())
    assert saved["AAPL/test/served/crps"] == pytest.approx(metrics["AAPL/test/served/crps"])
    for key in (
        "test/served/crps",
        "test/ewma/served/crps",
        "test/garch/served/crps",
        "test/served/coverage_90",
        "test/mase",
        "val/served/crps",
    ):
        assert f"AAPL/{key}" in saved and f"IBM/{key}" in saved
        assert saved[key] == pytest.approx((saved[f"AAPL/{key}"] + saved[f"IBM/{key}"]) / 2)
    assert saved["AAPL/test/served/crps"] != saved["IBM/test/served/crps"]
    _, single = tiny_run  # the same tiny run on AAPL alone
    assert single["test/served/crps"] != metrics["AAPL/test/served/crps"]
    assert single["test/ewma/served/crps"] == pytest.approx(
        metrics["AAPL/test/ewma/served/crps"]
    )  # same series, same test


def test_one_artifact_holds_every_series_and_loads_in_the_server_registry(pooled_run):
    run_dir, metrics = pooled_run
    assert sorted(p.name for p in (run_dir / "run").glob("*.pt")) == ["model.pt"]
    registry = Registry(run_dir / "run")
    report = registry.reload()
    assert report["loaded"] == ["model.pt"] and not report["errors"]
    entry = registry.resolve("model")
    aapl, ibm = entry.artifact["series"]["AAPL"], entry.artifact["series"]["IBM"]
    assert (entry.series_context["AAPL"]["ticker"], entry.series_context["IBM"]["ticker"]) == ("AAPL", "IBM")
    assert aapl["codec"] != ibm["codec"]
    assert aapl["metrics"]["test/served/crps"] == pytest.approx(metrics["AAPL/test/served/crps"])
    assert ibm["metrics"]["test/served/crps"] == pytest.approx(metrics["IBM/test/served/crps"])
    assert entry.artifact["metrics"]["test/served/crps"] == pytest.approx(metrics["test/served/crps"])
    # The same closes, the same weights: each series' own codec and calibration give its own spread.
    forecaster = entry.forecaster("cpu")
    closes = [100.0 + (-1) ** i * 0.5 * i for i in range(entry.artifact["window"])]
    q_aapl = forecaster.predict(closes, quantiles=[0.05, 0.95], series="AAPL")["quantiles"]
    q_ibm = forecaster.predict(closes, quantiles=[0.05, 0.95], series="IBM")["quantiles"]
    assert q_aapl != q_ibm
    # The run's one artifact is the published one, byte for byte.
    assert (run_dir / "checkpoints" / "best.pt").read_bytes() == (run_dir / "run" / "model.pt").read_bytes()


def test_a_pooled_run_gives_a_sweep_one_objective(pooled_run):
    _, metrics = pooled_run
    assert objective(metrics, "val/loss") == metrics["val/loss"]  # the pooled validation loss of the fit
    assert objective(metrics, "val/served/crps") == pytest.approx(
        (metrics["AAPL/val/served/crps"] + metrics["IBM/val/served/crps"]) / 2
    )
    assert objective(metrics, "IBM/val/served/crps") == metrics["IBM/val/served/crps"]
    assert objective(metrics, ["val/raw/mae", "val/raw/rmse"]) == (
        metrics["val/raw/mae"],
        metrics["val/raw/rmse"],
    )


@pytest.mark.parametrize(
    ("tickers", "says"),
    [
        ("[AAPL,NOPE]", "ticker 'NOPE' is not in the bundled sample"),
        ("[]", "data.tickers is an empty list"),
        ("[AAPL,AAPL]", "lists ['AAPL'] more than once"),
    ],
)
def test_a_bad_ticker_list_is_one_clear_line_and_exit_code_2(tmp_path, capsys, tickers, says):
    with pytest.raises(SystemExit) as exited, exit_on_data_error():
        train(compose_train(tmp_path, [f"data.tickers={tickers}"]))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "model.pt").exists()


def test_a_single_ticker_is_a_universe_of_one(tmp_path):
    alone = build(compose_train(tmp_path, ["data.ticker=IBM"]).data)
    listed = build(compose_train(tmp_path, ["data.tickers=[IBM]"]).data)
    pair = build(compose_train(tmp_path, [PAIR]).data)
    for dm in (alone, listed, pair):
        dm.setup("fit")
    assert list(alone.members) == list(listed.members) == ["IBM"] and list(pair.members) == ["AAPL", "IBM"]
    assert alone.codec.to_dict() == listed.codec.to_dict() == pair.members["IBM"].codec.to_dict()
    for part in ("train", "val"):
        assert torch.equal(alone.parts[part].x[:], listed.parts[part].x[:])
        assert torch.equal(alone.parts[part].y, pair.members["IBM"].parts[part].y)
    # Per-epoch price scores decode by one codec: one series has it, several do not.
    assert alone.price_codec is alone.codec and pair.price_codec is None


def test_a_backtest_refuses_a_ticker_list():
    from closecast.training.backtest import only_series

    with pytest.raises(DataError, match=r"data.tickers=\['AAPL', 'IBM'\] pools several series"):
        only_series(PriceDataModule(tickers=["AAPL", "IBM"]))


def test_a_pooled_run_resumes_from_last_checkpoint(tmp_path):
    first = compose_train(tmp_path / "a", [PAIR, "trainer.max_epochs=1", "callbacks.early_stopping=null"])
    train(first)
    last = tmp_path / "a" / "run" / "checkpoints" / "last.ckpt"
    steps = torch.load(last, weights_only=False)["global_step"]
    resumed = [PAIR, "trainer.max_epochs=2", "callbacks.early_stopping=null", f"ckpt_path={last}"]
    metrics = train(compose_train(tmp_path / "b", resumed))
    after = torch.load(tmp_path / "b" / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert (after["epoch"], after["global_step"]) == (1, 2 * steps)
    assert metrics["epochs"] == 2 and "IBM/test/served/crps" in metrics


@pytest.mark.slow
def test_a_pooled_sweep_optimizes_the_pooled_objective(tmp_path, capfd):
    from tests.helpers.sweeps import ok, storage_url, study_of, sweep_here

    ok(sweep_here(tmp_path, "hydra.sweeper.n_trials=2", PAIR, capfd=capfd))
    trials = study_of(storage_url(tmp_path)).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    for trial in trials:
        run = Path(trial.user_attrs["artifact"]).parent
        saved = json.loads((run / "metrics.json").read_text())
        assert trial.values == [pytest.approx(saved["val/loss"])]
        assert (
            list(load_artifact(run / "model.pt")["series"]) == ["AAPL", "IBM"]
            and "IBM/test/served/crps" in saved
        )
    assert trials[0].values != trials[1].values
    assert list(load_artifact(tmp_path / "checkpoints" / "best.pt")["series"]) == ["AAPL", "IBM"]
