"""Hydra entry: `python backtest.py [overrides]` (`make backtest`) runs the walk-forward backtest of a series.

Writes backtest.csv (fold × method), backtest_distribution.csv (fold × method: CRPS, NLL, coverage, …),
backtest.md and backtest.png into the run dir and prints the tables with a verdict against naive and one
against the reference volatility baseline chosen on each fold's validation part.
"""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from closecast.config import groups_set_to_null
from closecast.errors import exit_on_data_error
from closecast.evaluation.report import (
    backtest_markdown,
    backtest_point_markdown,
    backtest_point_verdict,
    backtest_settings,
    backtest_verdict,
)
from closecast.training.backtest import run_backtest, save_outputs


@hydra.main(config_path="configs", config_name="backtest")
def main(cfg: DictConfig) -> float:
    output_dir = Path(cfg.paths.output_dir)
    with exit_on_data_error():  # a problem with the input the user can fix: one line, no traceback
        result = run_backtest(cfg, output_dir)
    title = f"{cfg.data.ticker if cfg.data.source != 'csv' else cfg.data.path} walk-forward backtest"
    paths = save_outputs(result, output_dir, title)
    print(f"\n{title} ({backtest_settings(cfg)})\n")
    print(backtest_point_markdown(result.table))
    print(f"\n{backtest_point_verdict(result.table)}")
    rows = result.distribution.to_dict("records")
    verdict = backtest_verdict(rows, result.dm_t)
    print(f"\n{backtest_markdown(rows)}\n\n{verdict}\nwall time: {result.seconds:.0f} s")
    print("\n".join(f"{kind}: {path}" for kind, path in paths.items()))
    overall = result.table[(result.table.fold == "all") & (result.table.method == "model")]
    return float(overall.mase.iloc[0])


if __name__ == "__main__":
    sys.argv[1:] = groups_set_to_null(sys.argv[1:])  # `logger=null` reads as Hydra's `~logger`
    main()
