"""`python -m benchmarks SUBCOMMAND [options]` (from the repository root): one benchmark per subcommand."""

from __future__ import annotations

import importlib
import sys

# Subcommand -> (module holding its `main(argv)`, what it measures). Imported only when chosen, so one
# benchmark's `--help` does not load another's dependencies.
COMMANDS = {
    "train": ("benchmarks.train", "training speed: the project's Trainer against a plain PyTorch loop"),
    "serve": ("benchmarks.serve", "serving throughput and latency against a bare endpoint"),
    "serve-parts": ("benchmarks.serve_parts", "where a /predict request's time goes, in-process"),
    "universe": (
        "benchmarks.universe",
        "the 20-stock preset's phases, loops and memory on a universe",
    ),
    "universe-gpu": (
        "benchmarks.universe_gpu",
        "500 synthetic series x 5,000 days, 10 epochs on one GPU; loops on the card",
    ),
    "hpo": ("benchmarks.hpo", "the same Optuna sweep with and without the pruner"),
}


def usage() -> str:
    """The list of subcommands."""
    rows = "\n".join(f"  {name:<12} {text}" for name, (_, text) in COMMANDS.items())
    return (
        "usage: python -m benchmarks {" + ",".join(COMMANDS) + "} [options]\n\n"
        f"subcommands:\n{rows}\n\n`python -m benchmarks SUBCOMMAND --help` lists its options."
    )


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmark with the remaining arguments."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(
            f"{usage()}\n\nerror: unknown benchmark {name!r}; choose one of {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        return 2
    return importlib.import_module(COMMANDS[name][0]).main(rest)


if __name__ == "__main__":
    sys.exit(main())
