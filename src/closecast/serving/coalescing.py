"""Concurrent `/predict` requests answered by one network call.

A request's window is checked in its own request (a bad one is answered 422 alone), then queued. The
first window queued schedules one call on the event loop (`loop.call_soon`), which runs once the requests
already in hand have queued theirs: every window queued by then that asks the same of the same
forecaster (horizon, interval, quantiles) goes through the network together, as a `/predict/batch` body
would. Nothing waits for more requests to arrive: an idle server answers a lone request at once, and a
busy one answers as many requests per call as came in while the call before ran.

A window's numbers do not depend on the other windows of its call, except that the network's float32
sums may round differently in a batch (about 1e-7 relative); `COALESCE=false` answers each request by a
call of its own.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Histogram

from closecast.inference.forecaster import Forecaster, Options, Prepared


@dataclass
class Call:
    """The windows queued for one network call of one forecaster, with the same options."""

    forecaster: Forecaster
    options: Options
    seconds: Histogram  # the checkpoint's inference-time series: one observation per call
    sizes: Histogram  # the checkpoint's requests-per-call series
    waiting: list[tuple[Prepared, asyncio.Future]] = field(default_factory=list)


class Coalescer:
    """Queues checked windows and answers every queued window of a forecaster and options by one call,
    at most `max_items` windows a call; `enabled=False` gives each window a call of its own."""

    def __init__(self, enabled: bool = True, max_items: int = 500) -> None:
        self.enabled, self.max_items = enabled, max_items
        self.queued: dict[tuple[int, Options], Call] = {}

    async def answer(
        self,
        forecaster: Forecaster,
        prepared: Prepared,
        options: Options,
        seconds: Histogram,
        sizes: Histogram,
    ) -> dict[str, Any]:
        """The answer for one checked window, from the call that takes it (`Forecaster.answer_prepared`)."""
        if not self.enabled:
            call = Call(forecaster, options, seconds, sizes)
            return run(call, [prepared])[0]
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        key = (id(forecaster), options)
        call = self.queued.get(key)
        if call is None:
            call = self.queued[key] = Call(forecaster, options, seconds, sizes)
            loop.call_soon(self.flush, key)
        call.waiting.append((prepared, future))
        if len(call.waiting) >= self.max_items:
            self.flush(key)  # the call is full: run it now; a later window queues a new one
        return await future

    def flush(self, key: tuple[int, Options]) -> None:
        """Run the queued call of `key` (if it has not run yet), resolving every window's future."""
        call = self.queued.pop(key, None)
        if call is None:
            return
        waiting = [(p, f) for p, f in call.waiting if not f.done()]  # a cancelled request wants nothing
        if not waiting:
            return
        try:
            answers = run(call, [p for p, _ in waiting])
        except Exception as exc:
            if len(waiting) == 1:
                waiting[0][1].set_exception(exc)
                return
            # One window that cannot be answered must not fail the others: each by a call of its own,
            # so every request succeeds or fails as it would have alone.
            for prepared, future in waiting:
                try:
                    future.set_result(run(call, [prepared])[0])
                except Exception as alone:
                    future.set_exception(alone)
            return
        for (_, future), answer in zip(waiting, answers, strict=True):
            future.set_result(answer)


def run(call: Call, prepared: list[Prepared]) -> list[dict[str, Any]]:
    """The answers of `prepared` by one network call of `call`, timed and counted in its histograms."""
    start = time.perf_counter()
    answers = call.forecaster.answer_prepared(prepared, call.options)
    call.seconds.observe(time.perf_counter() - start)
    call.sizes.observe(len(prepared))
    return answers
