"""constraints.txt, what `make install` holds every package to: each of pyproject.toml's requirements pinned
once, at a version its range allows; torch left to the index `make install TORCH=…` picks."""

from __future__ import annotations

import re

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers.configs import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+, as the lock is


def pins() -> dict[str, str]:
    """constraints.txt as {canonical name: version}; fails on a line that is not `name==version`."""
    found: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line.strip())
        assert match, f"constraints.txt: {line!r} is not name==version"
        name = canonicalize_name(match.group(1))
        assert name not in found, f"constraints.txt pins {name} twice"
        found[name] = match.group(2)
    return found


def requirements() -> list[Requirement]:
    """Every requirement of pyproject.toml: the base install and each extra, closecast's own left out."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [
        *project["dependencies"],
        *(r for extra in project["optional-dependencies"].values() for r in extra),
    ]
    return [r for r in map(Requirement, lines) if canonicalize_name(r.name) != "closecast"]


def test_every_requirement_is_pinned_within_its_range():
    locked = pins()
    for req in requirements():
        name = canonicalize_name(req.name)
        if name == "torch":
            continue  # the CPU or CUDA build comes from the index TORCH picks
        assert name in locked, f"pyproject.toml requires {req}, which constraints.txt does not pin"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"constraints.txt pins {name}=={locked[name]}, outside pyproject.toml's {req}; run make lock"
        )


def test_torch_and_its_cuda_libraries_are_left_to_the_index():
    locked = pins()
    assert "torch" not in locked and "triton" not in locked
    assert not [n for n in locked if n.startswith("nvidia-")]


def test_make_install_uses_the_lock_and_rebuilds_when_it_changes():
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK ?= constraints.txt" in makefile
    assert re.search(r"^\$\(STAMP\): pyproject\.toml \$\(LOCK\)$", makefile, re.M)
    assert re.search(r"pip install --quiet -e '\.\[dev\]' \$\(LOCKED\)", makefile)
