"""Where the server listens and what it serves, from the environment (the Makefile and image set them)."""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """An environment variable with a value the server cannot use."""


def api_key_problem(key: str) -> str | None:
    """Why `key` cannot be the API key (None: it can). A client sends it in an HTTP header, which drops
    surrounding spaces and carries ASCII, so such a key could never match, or would match a blank."""
    if not key.strip():
        return "is empty or only spaces"
    if key != key.strip():
        return "has spaces around it"
    if not (key.isascii() and key.isprintable()):
        return "holds characters other than printable ASCII"
    return None


API_KEY_WAY_OUT = "set a key of printable ASCII characters with no spaces around it, or unset API_KEY"


class Settings(BaseSettings):
    """HOST, PORT, WORKERS, CHECKPOINTS_DIR, RELOAD_INTERVAL, BODY_TIMEOUT, COALESCE and API_KEY."""

    model_config = SettingsConfigDict(
        case_sensitive=True, frozen=True, env_ignore_empty=True, extra="ignore", populate_by_name=True
    )

    host: str = Field("127.0.0.1", alias="HOST")
    port: int = Field(9010, ge=1, le=65535, alias="PORT")
    workers: int = Field(1, ge=1, le=64, alias="WORKERS")
    checkpoints_dir: Path = Field(Path("checkpoints"), alias="CHECKPOINTS_DIR")
    # Seconds between looks for new or changed artifacts; 0 turns the watch off.
    reload_interval: float = Field(10.0, ge=0, le=86400, alias="RELOAD_INTERVAL")
    # Seconds a client may take to send the next part of a request body before it is answered 408.
    body_timeout: float = Field(10.0, gt=0, le=3600, alias="BODY_TIMEOUT")
    # Concurrent /predict requests to one checkpoint share a network call (`closecast.serving.coalescing`);
    # false: a call per request, so an answer never depends on the float32 rounding of a batch.
    coalesce: bool = Field(True, alias="COALESCE")
    # When set, /predict, /models and /models/reload need `Authorization: Bearer <API_KEY>`.
    api_key: str | None = Field(None, alias="API_KEY", repr=False)

    @field_validator("reload_interval", "body_timeout")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be finite")
        return value

    @field_validator("api_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        problem = None if value is None else api_key_problem(value)
        if problem:
            raise ValueError(f"the key {problem}")
        return value

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Settings from `env` (default: the process environment), or `SettingsError` naming the variable."""
        key = (env if env is not None else _environ()).get("API_KEY")
        problem = None if key is None else api_key_problem(key)
        if problem:  # before the rest: an empty variable reads as unset, and the key is not echoed
            raise SettingsError(f"API_KEY {problem}; {API_KEY_WAY_OUT}")
        try:
            if env is None:
                return cls()
            # Only `env`, not the process environment: a test or a caller states every value.
            return cls.model_validate({k: v.strip() for k, v in env.items() if v.strip()})
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            name = str(error["loc"][0])
            raw = (env if env is not None else _environ()).get(name, "")
            field = next(f for f in cls.model_fields.values() if f.alias == name)
            raise SettingsError(
                f"{name}={raw!r} is not valid ({error['msg']}); unset it for {field.default}"
            ) from None


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
