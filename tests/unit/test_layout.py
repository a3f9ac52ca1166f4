"""The package's shape: folders by stage, short modules, imports in one direction, no cycles."""

from __future__ import annotations

import ast
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
    "training": {"data", "distributions", "models", "evaluation", "artifacts"},
    "hpo": {"data", "distributions", "models", "evaluation", "artifacts", "training"},
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


def loaded_after(statement: str) -> list[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return sorted({m.split(".")[0] for m in out.split()} & set(HEAVY))


@pytest.mark.parametrize(
    "statement",
    [
        "import closecast.serving.app",
        "import closecast.serve",
        "from closecast import predict_next_from_values",
        "import closecast.inference.forecaster, closecast.inference.predict",
    ],
)
def test_serving_and_inference_load_no_training_library(statement):
    assert loaded_after(statement) == []


def test_the_model_layer_loads_no_volatility_library():
    assert "arch" not in loaded_after("import closecast.models.lstm, closecast.models.module")


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
