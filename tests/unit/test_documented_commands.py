"""Every `python train.py …` (and `eval.py`, `backtest.py`) command the README and docs/ print runs as
printed in bash: bash passes the words the docs mean (no brace expansion, no glob, no word split inside
an override), and those words are Hydra overrides that compose."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from closecast.config import compose_config
from tests.helpers.configs import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ENTRY = re.compile(r"(?:\.venv/bin/)?python (train|eval|backtest)\.py\b(.*)")
PLACEHOLDERS = {"<run>": "r1", "$URL": "sqlite:///study.db"}  # what a reader types in their place
SKIPPED = ("[...]", "…")  # an elided list: not a command to type as is


def documented_commands() -> list[tuple[str, str, str]]:
    """(doc, entry, argument text) of each command the docs print, in code blocks and inline spans."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
        spans = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
        lines = [line for block in blocks for line in block.splitlines()] + [
            " ".join(s.split()) for s in spans
        ]
        for line in lines:
            match = ENTRY.search(line)
            if match and not any(s in line for s in SKIPPED):
                found.append((doc.name, match.group(1), match.group(2).strip()))
    return found


COMMANDS = documented_commands()


def test_the_docs_print_commands_to_check():
    assert len(COMMANDS) > 30 and any("scheduler=" in args for _, _, args in COMMANDS)


@pytest.mark.parametrize(("doc", "entry", "args"), COMMANDS, ids=[f"{d}:{a[:60]}" for d, _, a in COMMANDS])
def test_a_documented_command_runs_as_printed(doc, entry, args, tmp_path):
    env = {**os.environ, "URL": PLACEHOLDERS["$URL"]}
    typed = args.replace("<run>", PLACEHOLDERS["<run>"])
    # What bash hands the entry (in an empty folder: a glob would match nothing there).
    proc = subprocess.run(
        ["bash", "-c", f'set -- {typed}\nfor w in "$@"; do printf \'%s\\0\' "$w"; done'],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"{doc}: {args!r}: {proc.stderr}"
    words = proc.stdout.split("\0")[:-1]
    meant = [os.path.expandvars(w) if "$URL" in w else w for w in shlex.split(typed, comments=True)]
    meant = [w.replace("$URL", env["URL"]) for w in meant]
    assert words == meant, f"{doc}: bash splits {args!r} into {words}; quote the override"
    parser = OverridesParser.create()
    overrides = [w for w in words if w != "-m"]
    parsed = parser.parse_overrides(overrides)  # a Hydra grammar error fails here
    plain = [w for w, o in zip(overrides, parsed, strict=True) if not o.is_sweep_override()]
    compose_config(entry, plain, output_dir=tmp_path)
