"""What one universe benchmark run measures (`python -m benchmarks universe`): its settings, their defaults
and the tiny ones its test runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    """What one universe benchmark run measures."""

    preset: list[str]  # overrides of the preset run (and of the loop and memory runs)
    loop_epochs: int
    rounds: int
    series: int  # synthetic panel for the memory run
    days: int
    steps: int
    full_history: bool  # the preset once more on the whole 1990–2022 history (`data.start=1990-05-01`)
    seed: int = 0


PRESET = ["experiment=universe", "plots=false", "threads=1"]
# Loop rounds: a multiple of three, so each order of the three sides comes up as often; three epochs a round,
# so the once-a-fit work inside the timed stretch (Lightning's first-epoch setup, the logger's first write)
# weighs a third of what it does in one-epoch rounds (there the project trailed barebones Lightning by 6%,
# at three epochs by 3%; a run of dozens of epochs spreads it thinner still).
DEFAULTS = dict(preset=PRESET, loop_epochs=3, rounds=9, series=500, days=5000, steps=300, full_history=True)
# The dataset's whole history, about 165,000 prices over the 20 stocks against about 90,000 from 2005. From
# May 1990: the cleaning step refuses RRC's 3-for-1 move of 1990-04-10 (an unadjusted split in the data).
FULL_HISTORY = ["data.start=1990-05-01"]
TINY = dict(
    preset=[
        *PRESET,
        "data.tickers=[AAPL,AMD]",
        "data.start=2018-01-01",
        "data.window=10",
        "data.batch_size=32",  # the preset's 256 leaves the tiny panel fewer batches than `steps`
        "model.hidden=8",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "baselines.refit_every=0",
    ],
    loop_epochs=1,
    rounds=1,
    series=3,
    days=400,
    steps=5,
    full_history=False,
)
