"""The container runs what `make serve` runs. No Docker engine here: the files are parsed and compared."""

from __future__ import annotations

import json
import re
import shlex

import yaml

from closecast.serve import Settings
from tests.conftest import ROOT


def makefile_defaults_and_serve_command() -> tuple[dict[str, str], list[str]]:
    text = (ROOT / "Makefile").read_text()
    defaults = dict(re.findall(r"^(\w+)\s*\?=\s*(\S+)\s*$", text, re.M))
    recipe = re.search(r"^serve:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe, "Makefile has no serve target"
    lines = [line.strip() for line in recipe.group(1).splitlines() if line.strip()]
    assert len(lines) == 1, f"serve should run one command, found {lines}"
    command = shlex.split(lines[0])
    assert command[0] == "$(BIN)/python", command  # the venv's python: `python` inside the image
    return defaults, ["python", *command[1:]]


def dockerfile() -> tuple[list[str], dict[str, str]]:
    """Instructions (continuation lines joined) and the ENV settings."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n\s*", " ", text)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    env: dict[str, str] = {}
    for line in lines:
        if line.startswith("ENV "):
            env.update(dict(token.split("=", 1) for token in shlex.split(line[4:])))
    return lines, env


def instruction(lines: list[str], name: str) -> list[str]:
    return [line[len(name) + 1 :].strip() for line in lines if line.split()[0] == name]


def test_container_command_is_make_serve() -> None:
    defaults, serve = makefile_defaults_and_serve_command()
    lines, env = dockerfile()
    (cmd,) = instruction(lines, "CMD")
    assert json.loads(cmd) == serve == ["python", "-m", "closecast.serve"]
    # Same listening defaults as `make serve` and as the server's own defaults.
    for key in ("HOST", "PORT", "WORKERS"):
        assert env[key] == defaults[key], key
    settings = Settings.from_env(env)
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 9010, 1)


def test_image_is_slim_non_root_cpu_torch_with_a_health_check() -> None:
    lines, env = dockerfile()
    (base,) = instruction(lines, "FROM")
    assert base.startswith("python:") and base.endswith("-slim")
    (user,) = instruction(lines, "USER")
    assert user not in ("root", "0")
    (health,) = instruction(lines, "HEALTHCHECK")
    assert "/health" in health and "PORT" in health
    pinned = re.search(r'"(torch==[^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    installs = " ".join(instruction(lines, "RUN"))
    assert f"pip install {pinned} --index-url https://download.pytorch.org/whl/cpu" in installs
    assert "pip install ." in installs
    for source in (s.split()[0] for s in instruction(lines, "COPY")):
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    assert env["CHECKPOINTS_DIR"] == "/app/checkpoints"


def test_compose_serves_port_9010_with_checkpoints_read_only() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    (service,) = compose["services"].values()
    assert (ROOT / service["build"] / "Dockerfile").is_file()
    assert "9010:9010" in service["ports"]
    assert "./checkpoints:/app/checkpoints:ro" in service["volumes"]
    _, image_env = dockerfile()
    env = {k: str(v) for k, v in service.get("environment", {}).items()}
    assert env["PORT"] == "9010" and env["CHECKPOINTS_DIR"] == image_env["CHECKPOINTS_DIR"]
    Settings.from_env(env)  # every value the compose file sets is one the server accepts


def test_docker_context_leaves_out_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".venv", ".git", "checkpoints", "outputs"):
        assert path in ignored
