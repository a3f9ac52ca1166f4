"""Command-line options the benchmarks share: where the figures go, and whole-number settings that must be
positive."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks import document


def add_output_options(p: argparse.ArgumentParser) -> None:
    """`--json PATH`, `--update-docs` and `--docs PATH`: where a benchmark writes what it measured."""
    p.add_argument("--json", type=Path, help="write the result as JSON here")
    p.add_argument("--update-docs", action="store_true", help="rewrite this benchmark's section in the docs")
    p.add_argument("--docs", type=Path, default=document.DOC, help="the benchmarks document to update")


def overridden(base: dict, args: argparse.Namespace, keys: tuple[str, ...]) -> dict:
    """`base` with each of `keys` given on the command line in its place; a value below 1 is refused,
    naming the option."""
    out = dict(base)
    for key in keys:
        value = getattr(args, key)
        if value is not None:
            if value < 1:
                raise SystemExit(f"--{key.replace('_', '-')} must be at least 1, got {value}")
            out[key] = value
    return out
