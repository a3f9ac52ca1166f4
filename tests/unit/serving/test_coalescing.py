"""Concurrent `/predict` windows share one network call: the windows in hand when the call runs, grouped by
forecaster and options, each answered as it would be alone, and no window's failure another's."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from fastapi.testclient import TestClient

from closecast.artifacts.publish import save_artifact
from closecast.artifacts.schema import check_artifact
from closecast.inference.forecaster import Forecaster, Item
from closecast.serving.app import create_app
from closecast.serving.coalescing import Coalescer
from closecast.serving.settings import Settings, SettingsError
from tests.helpers.artifacts import WINDOW, sample_prices, tiny_artifact

CLOSES, _ = sample_prices("AAPL", 300)


class Recorder:
    """Stands in for a Prometheus histogram series: what was observed."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def observe(self, value: float) -> None:
        self.values.append(value)


def windows(n: int) -> list[list[float]]:
    return [CLOSES[7 * i : 7 * i + WINDOW + i].tolist() for i in range(n)]


@pytest.fixture(scope="module")
def forecaster() -> Forecaster:
    return Forecaster(check_artifact(tiny_artifact("universe")))


def submit(coalescer: Coalescer, f: Forecaster, values: list[float], sizes: Recorder, **options):
    """One request's coroutine, its window checked as the route checks it."""
    opts = f.options(options.get("horizon"), options.get("interval"), options.get("quantiles"))
    series = options.get("series", "GOOG")
    (prepared,) = f.prepare_items([Item(values, series)], opts.spread, label=None)
    return coalescer.answer(f, prepared, opts, Recorder(), sizes)


async def gather(*coroutines):
    return await asyncio.gather(*coroutines, return_exceptions=True)


def test_windows_in_hand_share_one_call_and_get_their_own_answers(forecaster: Forecaster) -> None:
    sizes = Recorder()
    coalescer = Coalescer()
    options = {"interval": 0.8, "quantiles": [0.1, 0.9], "horizon": 2}
    names = ["AAPL", "GOOG", "IBM"]
    sent = [(values, names[i % 3]) for i, values in enumerate(windows(6))]
    got = asyncio.run(
        gather(*[submit(coalescer, forecaster, v, sizes, series=s, **options) for v, s in sent])
    )
    assert sizes.values == [6]
    for (values, series), answer in zip(sent, got, strict=True):
        alone = forecaster.predict(values, series=series, **options)
        assert answer["series"] == series
        assert answer["predictions"] == pytest.approx(alone["predictions"], rel=1e-6)
        assert answer["lower"] == pytest.approx(alone["lower"], rel=1e-6)
        assert answer["quantiles"].keys() == alone["quantiles"].keys()


def test_different_options_or_forecasters_get_calls_of_their_own(forecaster: Forecaster) -> None:
    other = Forecaster(check_artifact(tiny_artifact("universe", seed=1)))
    sizes = Recorder()
    coalescer = Coalescer()
    w = windows(5)
    got = asyncio.run(
        gather(
            submit(coalescer, forecaster, w[0], sizes),
            submit(coalescer, forecaster, w[1], sizes, horizon=2),
            submit(coalescer, forecaster, w[2], sizes),
            submit(coalescer, other, w[3], sizes),
            submit(coalescer, forecaster, w[4], sizes, interval=0.9),
        )
    )
    assert sorted(sizes.values) == [1, 1, 1, 2]
    assert [len(a["predictions"]) for a in got] == [1, 2, 1, 1, 1]
    assert "lower" in got[4] and "lower" not in got[0]


def test_turned_off_each_window_gets_a_call(forecaster: Forecaster) -> None:
    sizes = Recorder()
    coalescer = Coalescer(enabled=False)
    asyncio.run(gather(*[submit(coalescer, forecaster, v, sizes) for v in windows(4)]))
    assert sizes.values == [1, 1, 1, 1]


def test_a_full_call_runs_at_once_and_the_rest_queue_another(forecaster: Forecaster) -> None:
    sizes = Recorder()
    coalescer = Coalescer(max_items=2)
    got = asyncio.run(gather(*[submit(coalescer, forecaster, v, sizes) for v in windows(5)]))
    assert sizes.values == [2, 2, 1] and all(isinstance(a, dict) for a in got)


def test_a_window_that_fails_fails_alone(forecaster: Forecaster, monkeypatch) -> None:
    w = windows(4)
    poisoned = w[2][-1]
    answer_prepared = forecaster.answer_prepared

    def refuse(prepared, options):
        if any(p.window[-1] == poisoned for p in prepared):
            raise RuntimeError("this window cannot be answered")
        return answer_prepared(prepared, options)

    monkeypatch.setattr(forecaster, "answer_prepared", refuse)
    sizes = Recorder()
    got = asyncio.run(gather(*[submit(Coalescer(), forecaster, v, sizes) for v in w]))
    assert isinstance(got[2], RuntimeError)
    assert [isinstance(a, dict) for a in got] == [True, True, False, True]
    assert sizes.values == [1, 1, 1]  # the shared call failed; each window then went alone


def test_a_cancelled_request_leaves_the_others_answered(forecaster: Forecaster) -> None:
    sizes = Recorder()
    coalescer = Coalescer()

    async def main():
        tasks = [asyncio.ensure_future(submit(coalescer, forecaster, v, sizes)) for v in windows(3)]
        await asyncio.sleep(0)  # every task has queued its window; the call has not run
        tasks[1].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    got = asyncio.run(main())
    assert isinstance(got[1], asyncio.CancelledError)
    assert isinstance(got[0], dict) and isinstance(got[2], dict)
    assert sizes.values == [2]


def test_coalesce_is_a_setting_on_by_default(tmp_path) -> None:
    assert Settings.from_env({}).coalesce is True
    assert Settings.from_env({"COALESCE": "false"}).coalesce is False
    with pytest.raises(SettingsError, match=r"^COALESCE='maybe' is not valid .*; unset it for True$"):
        Settings.from_env({"COALESCE": "maybe"})
    for on in (True, False):
        app = create_app(Settings(checkpoints_dir=tmp_path, reload_interval=0, coalesce=on))
        assert app.state.coalescer.enabled is on


class Cycle:
    """An object only the cycle collector can free: it refers to itself."""

    def __init__(self) -> None:
        self.me = self


def test_the_server_freezes_its_heap_and_a_reload_lets_go_of_what_it_dropped(tmp_path) -> None:
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    save_artifact(tiny_artifact("point"), checkpoints / "good.pt")
    gc.unfreeze()
    app = create_app(Settings(checkpoints_dir=checkpoints, reload_interval=0))
    with TestClient(app) as client:
        # What is alive once the artifacts are loaded stays out of later collections.
        assert gc.get_freeze_count() > 0
        dropped = Cycle()
        gone = weakref.ref(dropped)
        gc.freeze()  # as if it had been alive at the last load
        del dropped
        gc.collect()
        assert gone() is not None  # frozen: a collection does not see it
        assert client.post("/models/reload").status_code == 200
        assert gone() is None  # the reload's collection freed it
        assert gc.get_freeze_count() > 0
