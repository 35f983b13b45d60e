"""Load settings from a YAML file and the environment; turn every mistake into a ConfigError."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from tikrelay.config.settings import Settings

CONFIG_ENV = "TIKRELAY_CONFIG"
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"  # noqa: S105 - the variable's name, not a secret


class ConfigError(Exception):
    """A configuration mistake; the message names the key and says how to fix it."""


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist: create it with `tikrelay init {path}`"
        ) from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of keys, not {type(data).__name__}"
        )
    return data


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{key}: unknown key; remove it or check its spelling against `tikrelay init`"
    if kind == "missing":
        return f"{key}: required; add it to the config file"
    if kind == "value_error":  # our own validators: the message names the key and the fix
        message = str(error["msg"]).removeprefix("Value error, ")
        return message if not error["loc"] else f"{key}: {message}"
    return f"{key}: {error['msg']} (got {error.get('input')!r})"


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the YAML file (``--config`` or ``TIKRELAY_CONFIG``) and apply the environment."""
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    file_values = _read_yaml(path) if path is not None else {}
    file_values.update(overrides)

    class _FileSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            # The environment wins over the file, as users expect from TIKRELAY_* overrides.
            return (env_settings, init_settings)

    try:
        loaded = _FileSettings(**file_values)
    except ValidationError as exc:
        problems = "; ".join(_describe(dict(err)) for err in exc.errors())
        source = f"{path}" if path else "the environment"
        raise ConfigError(f"invalid configuration in {source}: {problems}") from None
    if loaded.telegram.bot_token is None and os.environ.get(TOKEN_ENV):
        loaded.telegram.bot_token = SecretStr(os.environ[TOKEN_ENV])
    return loaded
