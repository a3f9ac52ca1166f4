"""closecast's benchmarks: `python -m benchmarks train|serve|serve-parts|hpo [options]`.

Run from the repository root: `python -m` puts the current folder on `sys.path`, which is how the modules
of this package find each other (`benchmarks.…`) and `configs/`. Each subcommand's `--update-docs`
rewrites its own section of docs/BENCHMARKS.md.
"""
