"""The container runs what `make serve` runs, with only what serving needs. No Docker engine here: the
files are parsed and compared, and the serving install is checked through the package metadata."""

from __future__ import annotations

import json
import re
import shlex

import tomllib
import yaml

from closecast.serving.settings import Settings
from tests.helpers.configs import ROOT


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


def final_stage(lines: list[str]) -> list[str]:
    """The instructions of the image's last stage (what the container carries)."""
    starts = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    return lines[starts[-1] :]


def test_container_command_is_make_serve() -> None:
    defaults, serve = makefile_defaults_and_serve_command()
    lines, env = dockerfile()
    (cmd,) = instruction(lines, "CMD")
    assert json.loads(cmd) == serve == ["python", "-m", "closecast.serve"]
    # Same port and workers as `make serve`; `make serve` binds loopback, the container all interfaces.
    for key in ("PORT", "WORKERS"):
        assert env[key] == defaults[key], key
    assert defaults["HOST"] == "127.0.0.1" and env["HOST"] == "0.0.0.0"
    assert Settings.from_env({}).host == "127.0.0.1"  # the server's own default is loopback too
    settings = Settings.from_env(env)
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 9010, 1)


def test_image_is_multi_stage_pinned_slim_non_root_cpu_torch_with_a_health_check() -> None:
    lines, env = dockerfile()
    bases = [b.split()[0] for b in instruction(lines, "FROM")]
    assert len(bases) == 2 and len(set(bases)) == 1, bases  # build stage, then the runtime stage
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim(-\w+)?", bases[0]), bases[0]  # a pinned tag
    final = final_stage(lines)
    assert any(line.startswith("COPY --from=") for line in final)
    assert not any(line.startswith("COPY src") for line in final)  # sources only in the build stage
    (user,) = instruction(final, "USER")
    assert user not in ("root", "0")
    (health,) = instruction(lines, "HEALTHCHECK")
    assert "/health" in health and "PORT" in health
    pinned = re.search(r'"(torch==[^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    installs = instruction(lines, "RUN")
    assert f"pip install {pinned} --index-url https://download.pytorch.org/whl/cpu" in installs
    # The base install (serving, no training extra) at the versions the tests use.
    assert "pip install . -c constraints.txt" in installs
    for source in (s.split()[0] for s in instruction(lines, "COPY") if not s.startswith("--from")):
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    assert env["CHECKPOINTS_DIR"] == "/app/checkpoints"


def test_compose_serves_port_9010_on_loopback_with_checkpoints_read_only() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    (service,) = compose["services"].values()
    assert (ROOT / service["build"] / "Dockerfile").is_file()
    # No key is set by default, so the host publishes the port to itself only.
    assert service["ports"] == ["127.0.0.1:9010:9010"]
    assert "API_KEY" not in service.get("environment", {})
    assert "command" not in service  # the image's CMD: what `make serve` runs
    assert "./checkpoints:/app/checkpoints:ro" in service["volumes"]
    _, image_env = dockerfile()
    env = {k: str(v) for k, v in service.get("environment", {}).items()}
    assert env["PORT"] == "9010" and env["CHECKPOINTS_DIR"] == image_env["CHECKPOINTS_DIR"]
    Settings.from_env(env)  # every value the compose file sets is one the server accepts


def test_docker_context_leaves_out_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".venv", ".git", "checkpoints", "outputs"):
        assert path in ignored


def test_the_base_install_is_serving_only_and_dev_has_everything() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[\[<>=!~ ]", r, maxsplit=1)[0].lower() for r in requirements}

    base, extras = names(project["dependencies"]), project["optional-dependencies"]
    training = {"pytorch-lightning", "hydra-core", "optuna", "matplotlib", "yfinance", "tensorboard"}
    assert not base & training
    assert {"fastapi", "uvicorn", "pydantic-settings", "prometheus-fastapi-instrumentator"} <= base
    assert training <= names(extras["train"])
    # `make install` gets training (with every logger it offers) and tests.
    (own,) = [d for d in extras["dev"] if d.startswith("closecast[")]
    assert {"train", "mlflow"} <= set(own.removeprefix("closecast[").removesuffix("]").split(","))


def test_docker_context_leaves_out_what_the_image_does_not_need() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in ("tests", "docs", "data", "configs"):
        assert path in ignored
