"""`python -m benchmarks SUBCOMMAND` and `python -m reports…`: each entry lists its options under its own
command line, and the benchmarks dispatcher names its subcommands when given an unknown one."""

from __future__ import annotations

import importlib

import pytest

from benchmarks.__main__ import COMMANDS
from benchmarks.__main__ import main as benchmarks_main

ENTRIES = [
    *((f"python -m benchmarks {name}", module) for name, (module, _) in COMMANDS.items()),
    ("python -m reports", "reports.results"),
    ("python -m reports.pooled", "reports.pooled"),
    ("python -m reports.compare_configs", "reports.compare_configs"),
]


@pytest.mark.parametrize(("command", "module"), ENTRIES, ids=[command for command, _ in ENTRIES])
def test_every_entry_prints_its_usage_under_its_command(command, module, capsys):
    with pytest.raises(SystemExit) as done:
        importlib.import_module(module).main(["--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {command} [-h]")


def test_the_dispatcher_runs_the_chosen_benchmark_with_the_rest_of_the_arguments(capsys):
    with pytest.raises(SystemExit) as done:
        benchmarks_main(["train", "--tiny", "--epochs", "0"])
    assert "--epochs must be at least 1, got 0" in str(done.value)  # train's own check: it got the options


def test_an_unknown_or_missing_benchmark_is_refused_naming_the_choices(capsys):
    assert benchmarks_main(["tarin"]) == 2
    refusal = (
        "unknown benchmark 'tarin'; choose one of train, serve, serve-parts, universe, universe-gpu, hpo"
    )
    assert refusal in capsys.readouterr().err
    assert benchmarks_main([]) == 2
    assert (
        "usage: python -m benchmarks {train,serve,serve-parts,universe,universe-gpu,hpo}"
        in capsys.readouterr().err
    )
    assert benchmarks_main(["--help"]) == 0
    listed = capsys.readouterr().out
    assert all(f"  {name} " in listed for name in COMMANDS)
