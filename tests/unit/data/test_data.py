"""The DataModule: the chronological split, scaler fitting, window alignment and batches."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from closecast.data import batches as data_mod
from closecast.data.codec import Codec
from closecast.data.windows import make_windows
from closecast.errors import DataError
from tests.helpers.series import one_series


def test_sample_source_reads_bundled_ticker(tmp_path):
    dm = one_series(source="sample", ticker="MSFT", data_dir="data", window=20)
    dm.setup()
    assert dm.feature == "Adj Close"
    assert dm.describe()["start"] == "2000-03-01"
    assert len(dm.parts["train"]) > 1000


def test_too_short_series_is_refused_with_both_numbers(tmp_path):
    path = tmp_path / "short.csv"
    pd.DataFrame({"Date": pd.bdate_range("2020-01-01", periods=40), "Close": np.linspace(10, 20, 40)}).to_csv(
        path, index=False
    )
    dm = one_series(source="csv", path=str(path), window=30)
    with pytest.raises(DataError, match=r"has 40 rows after cleaning.*need at least \d+"):
        dm.setup()


@pytest.mark.parametrize("target", ["return", "level"])
def test_scaler_is_fitted_on_the_training_part_only(target):
    dm = one_series(source="sample", ticker="IBM", window=20, target=target)
    dm.setup()
    train_prices = dm.series.to_numpy()[: dm.split.n_train]
    if target == "level":
        expected_mean, expected_std = train_prices.mean(), train_prices.std(ddof=1)
    else:
        returns = np.diff(np.log(train_prices))
        expected_mean, expected_std = returns.mean(), returns.std(ddof=1)
    assert dm.codec.mean == pytest.approx(expected_mean, rel=1e-12)
    assert dm.codec.std == pytest.approx(expected_std, rel=1e-12)


def test_windows_and_targets_align_on_a_hand_checkable_series():
    prices = torch.arange(1, 21, dtype=torch.float64)  # 1, 2, ..., 20
    dates = pd.bdate_range("2021-01-01", periods=20)
    codec = Codec(target="level", window=3, horizon=2, mean=0.0, std=1.0)
    ws = make_windows(prices, codec, slice(2, 18), dates)  # anchors t = 2..17 (0-based)
    assert len(ws) == 16
    assert ws.x[0, :, 0].tolist() == [1.0, 2.0, 3.0]
    assert ws.y[0].tolist() == [4.0, 5.0]
    assert ws.last[0].item() == 3.0 and ws.future[0].tolist() == [4.0, 5.0]
    assert ws.x[-1, :, 0].tolist() == [16.0, 17.0, 18.0] and ws.future[-1].tolist() == [19.0, 20.0]
    assert ws.anchor_dates[0] == dates[2]


def test_return_codec_inputs_and_targets_are_scaled_log_returns():
    prices = torch.tensor([100.0, 110.0, 99.0, 99.0, 120.0], dtype=torch.float64)
    codec = Codec(target="return", window=3, horizon=2, mean=0.01, std=0.5)
    x = codec.encode(prices[:3])
    expected = (np.diff(np.log([100.0, 110.0, 99.0])) - 0.01) / 0.5
    np.testing.assert_allclose(x[:, 0].numpy(), expected, rtol=1e-6)
    y = codec.target_of(prices)
    np.testing.assert_allclose(y.numpy(), np.log([99 / 99, 120 / 99]) / 0.5, rtol=1e-6, atol=1e-7)
    back = codec.decode(y.unsqueeze(0), prices[2:3], 1.0)
    np.testing.assert_allclose(back[0].numpy(), [99.0, 120.0], rtol=1e-6)


def test_splits_are_chronological_and_disjoint():
    dm = one_series(source="sample", ticker="GOOG", window=15, horizon=3)
    dm.setup()
    train, val, test = (dm.parts[k] for k in ("train", "val", "test"))
    assert max(train.anchor_dates) < min(val.anchor_dates) < min(test.anchor_dates)
    # No training target reaches into validation, and no validation target into test.
    train_end = dm.series.index[dm.split.n_train - 1]
    val_end = dm.series.index[dm.split.n_train + dm.split.n_val - 1]
    last_train_anchor = dm.series.index.get_loc(max(train.anchor_dates))
    assert dm.series.index[last_train_anchor + 3] <= train_end
    last_val_anchor = dm.series.index.get_loc(max(val.anchor_dates))
    assert dm.series.index[last_val_anchor + 3] <= val_end


def test_batches_cover_every_sample_once_per_epoch_and_shard_across_ranks():
    x = torch.arange(10).float()
    batches = data_mod.Batches((x,), batch_size=4, shuffle=True, seed=1)
    seen = torch.cat([b[0] for b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and len(batches) == 3
    ranks = [data_mod.Batches((x,), 3, True, seed=1, rank=r, world=2) for r in range(2)]
    shards = [torch.cat([b[0] for b in r]).tolist() for r in ranks]
    assert len(shards[0]) == len(shards[1]) == 5
    assert sorted(shards[0] + shards[1]) == list(range(10))


def test_ddp_ranks_split_the_pooled_samples_of_every_series_between_them():
    # Several series: the ranks shard one permutation of the pooled training samples (every series'),
    # disjoint but for the wrap that evens their step counts, and together they hold all of them.
    from collections import Counter
    from types import SimpleNamespace

    from closecast.data.datamodule import PriceDataModule

    tickers = ["AAPL", "GOOG", "IBM"]
    dm = PriceDataModule(tickers=tickers, start="2012-01-01", window=10, batch_size=64, on_device=False)
    dm.setup("fit")
    pooled = dm.parts["train"]
    assert len(pooled) == sum(len(dm.members[t].parts["train"]) for t in tickers)
    rows = {}
    for rank in (0, 1):
        dm.trainer = SimpleNamespace(global_rank=rank, world_size=2, overfit_batches=0)
        rows[rank] = Counter(tuple(r) for b in dm.train_dataloader() for r in b[0].flatten(1).tolist())
    every = Counter(tuple(r) for r in pooled.x[:].flatten(1).tolist())
    pad = 2 * math.ceil(len(pooled) / 2) - len(pooled)
    assert sum(rows[0].values()) == sum(rows[1].values()) == (len(pooled) + pad) // 2
    assert sum((rows[0] & rows[1]).values()) <= pad  # disjoint: only a wrapped sample is seen twice
    assert not every - (rows[0] + rows[1])  # together they cover the pooled training set


def test_overfit_batches_draw_the_same_training_batches_every_epoch(tmp_path):
    from types import SimpleNamespace

    from closecast.data.datamodule import PriceDataModule

    dm = PriceDataModule(ticker="AAPL", start="2012-01-01", window=10, batch_size=16, on_device=False)
    dm.setup("fit")
    dm.trainer = SimpleNamespace(global_rank=0, world_size=1, overfit_batches=0)
    loader = dm.train_dataloader()  # Lightning iterates one loader once per epoch
    shuffled = [next(iter(loader))[0] for _ in range(2)]
    assert not torch.equal(*shuffled)  # an ordinary epoch reshuffles
    dm.trainer.overfit_batches = 2
    loader = dm.train_dataloader()
    fixed = [next(iter(loader))[0] for _ in range(2)]
    assert torch.equal(*fixed)
