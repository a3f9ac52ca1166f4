"""The package's shape: folders by stage, short modules, imports in one direction, no cycles."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.configs import ROOT

SRC = ROOT / "src"
PACKAGE = SRC / "closecast"
# Each stage may import only the stages listed for it (and itself); `closecast.errors` and `closecast.config`
# are open to all. One direction: a lower folder never imports a higher one.
ALLOWED = {
    "data": set(),
    "distributions": {"data"},
    "models": {"data", "distributions"},
    "evaluation": {"data", "distributions", "models"},
    "artifacts": {"data", "distributions", "models"},
    "inference": {"data", "distributions", "models", "artifacts"},
    # `eval.py normalize=window` scores series through the Forecaster, as the server answers them.
    "training": {"data", "distributions", "models", "evaluation", "artifacts", "inference"},
    "hpo": {"data", "distributions", "models", "evaluation", "artifacts", "inference", "training"},
    "serving": {"data", "distributions", "models", "artifacts", "inference"},
}
HEAVY = ("pytorch_lightning", "lightning", "hydra", "optuna", "arch", "matplotlib", "scoringrules")


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def name_of(path: Path) -> str:
    return ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")


def closecast_imports(path: Path) -> set[str]:
    """Every `closecast.*` module a file imports, at any depth of the file (function bodies too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("closecast")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("closecast"):
            found.add(node.module)
    return found


def test_the_top_level_holds_at_most_five_files():
    files = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(files) <= 5, files


def test_every_module_is_under_300_lines():
    long = {name_of(p): n for p in modules() if (n := len(p.read_text().splitlines())) >= 300}
    assert not long, long


def test_stages_import_only_the_stages_below_them():
    wrong = []
    for path in modules():
        parts = name_of(path).split(".")
        if len(parts) < 2 or parts[1] not in ALLOWED:
            continue
        stage = parts[1]
        for target in closecast_imports(path):
            other = target.split(".")[1] if "." in target else ""
            if other in ("", stage, "errors", "config") or other in ALLOWED[stage]:
                continue
            wrong.append(f"{name_of(path)} imports {target}")
    assert not wrong, wrong


def test_there_is_no_import_cycle():
    graph = {name_of(p): {t for t in closecast_imports(p) if t != name_of(p)} for p in modules()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*trail, node, nxt]
            if nxt in graph and nxt not in state and (cycle := visit(nxt, [*trail, node])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [])
            assert cycle is None, " -> ".join(cycle)


SERVING_STATEMENTS = [
    "import closecast.serving.app",
    "import closecast.serve",
    "from closecast import predict_next_from_values",
    "import closecast.inference.forecaster, closecast.inference.predict",
]
MODEL_STATEMENT = "import closecast.models.lstm, closecast.models.module"
# One interpreter for every statement: it loads the libraries every statement needs (torch, numpy,
# pandas, none of them heavy), then runs each statement in a forked child of its own, which reports the
# top-level modules loaded after it.
PROBE = """
import json, os, sys
import numpy, pandas, torch
heavy = set(json.loads(sys.argv[1]))
assert not heavy & {m.split(".")[0] for m in sys.modules}, "the probe itself loaded a heavy module"
for statement in json.loads(sys.argv[2]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        exec(statement)
        os.write(write, json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        loaded = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and loaded, f"{statement!r} failed in the probe"
    print(json.dumps([statement, json.loads(loaded)]))
"""


@pytest.fixture(scope="module")
def loaded_after() -> dict[str, list[str]]:
    """For each statement, the heavy libraries a fresh interpreter has loaded after running it."""
    statements = [*SERVING_STATEMENTS, MODEL_STATEMENT]
    args = [json.dumps([*HEAVY, "yfinance"]), json.dumps(statements)]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    return dict(json.loads(line) for line in out.splitlines())


@pytest.mark.parametrize("statement", SERVING_STATEMENTS)
def test_serving_and_inference_load_no_training_library(statement, loaded_after):
    assert loaded_after[statement] == []


def test_the_model_layer_loads_no_volatility_library(loaded_after):
    assert "arch" not in loaded_after[MODEL_STATEMENT]


def test_only_the_likelihood_module_branches_on_the_likelihood():
    pattern = re.compile(r"likelihood (==|!=)|getattr\(net")
    hits = [
        f"{name_of(p)}:{i}"
        for p in modules()
        if p.name != "likelihood.py"
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, hits
