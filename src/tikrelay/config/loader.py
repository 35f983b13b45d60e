"""Load settings from a YAML file and the environment; turn every mistake into a ConfigError."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from tikrelay.config.logging import redact_text
from tikrelay.config.settings import Settings

CONFIG_ENV = "TIKRELAY_CONFIG"
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"  # noqa: S105 - the variable's name, not a secret
#: The ``ffmpeg`` key as a variable (pydantic-settings reads it through the TIKRELAY_ prefix).
FFMPEG_ENV = "TIKRELAY_FFMPEG"
#: Permission bits that let anyone but the owner at a file.
_SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO


class ConfigError(Exception):
    """A configuration mistake; the message names the key and says how to fix it."""


def _read_file(path: Path) -> tuple[str, int]:
    """The config file's text and its permission bits, read from one open file."""
    try:
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            raw = handle.read()
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist: create it with `tikrelay init {path}`"
        ) from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    try:
        return raw.decode("utf-8"), mode
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"config file {path} is not UTF-8 (byte 0x{raw[exc.start]:02x} on line {line}): "
            "save it as UTF-8"
        ) from None


def _read_yaml(path: Path) -> tuple[dict[str, Any], int]:
    """The mapping in the config file, and the file's permission bits."""
    text, mode = _read_file(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML{where}") from None
    if data is None:
        return {}, mode
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of keys, not {type(data).__name__}"
        )
    return data, mode


def _check_token_file(path: Path, data: dict[str, Any], mode: int) -> None:
    """A file that holds the bot token must be private, as the cookies file must."""
    telegram = data.get("telegram")
    if not isinstance(telegram, dict) or telegram.get("bot_token") in (None, ""):
        return
    if mode & _SHARED_BITS:
        raise ConfigError(
            f"config file {path} holds telegram.bot_token and other users may read it "
            f"(mode {stat.S_IMODE(mode):04o}): run `chmod 600 {path}`, or better, remove the key "
            f"and set {TOKEN_ENV} in the environment"
        )


def ffmpeg_problem(wanted: str) -> str | None:
    """Why ``wanted`` (the ``ffmpeg`` key or ``TIKRELAY_FFMPEG``) cannot be run, with the fix;
    None when it names an executable file or a command on PATH."""
    if shutil.which(wanted) is not None:
        return None
    origin = f"ffmpeg (or {FFMPEG_ENV})" if os.environ.get(FFMPEG_ENV) else "ffmpeg"
    return (
        f"{origin}: {wanted!r} is neither an executable file nor a command on PATH: write the path "
        f"of an executable ffmpeg or a command on PATH, or remove the key (and {FFMPEG_ENV}) to "
        "use the bundled ffmpeg"
    )


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
    if "bot_token" in key:  # a token of the wrong type is still a token
        return f"{key}: {error['msg']}"
    return f"{key}: {error['msg']} (got {redact_text(repr(error.get('input')))})"


def _source(path: Path | None) -> str:
    return f"{path}" if path else "the environment"


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the YAML file (``--config`` or ``TIKRELAY_CONFIG``) and apply the environment."""
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    file_values: dict[str, Any] = {}
    if path is not None:
        file_values, mode = _read_yaml(path)
        _check_token_file(path, file_values, mode)
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
        raise ConfigError(f"invalid configuration in {_source(path)}: {problems}") from None
    # Checked here rather than at the first video: a wrong path would fail every one of them.
    problem = ffmpeg_problem(loaded.ffmpeg) if loaded.ffmpeg else None
    if problem is not None:
        raise ConfigError(f"invalid configuration in {_source(path)}: {problem}")
    if loaded.telegram.bot_token is None and os.environ.get(TOKEN_ENV):
        loaded.telegram.bot_token = SecretStr(os.environ[TOKEN_ENV])
    return loaded
