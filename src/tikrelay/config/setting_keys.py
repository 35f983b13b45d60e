"""Which settings keys exist, which of them may be written into the config file from the
dashboard (``config.edit``), and which one an environment variable sets.

A key is dotted (``jobs.max_attempts``; a name the user chooses, such as a job kind, in its
place: ``jobs.kinds.poll.max_attempts``). Never written: a secret (a ``SecretStr``, or a key whose
last name says token, secret, password, credential or api key: secrets come from the
environment; the settings page shows them as set or unset only, by the same rule), ``sources``
and ``destinations`` (the catalog has its own commands and routes), and a section as a whole
(its keys are written one by one). A key that an environment variable sets is refused too: the
environment wins over the file, so writing the file would change nothing. So is a value no YAML
file in UTF-8 can hold (NaN, a lone surrogate, which JSON lets through) or nested absurdly deep.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

from tikrelay.config.loader import TOKEN_ENV
from tikrelay.config.settings import Settings

#: A key whose last name says this is a secret, whatever its type (shown as set or unset only).
SECRET_NAME = re.compile(r"token|secret|password|credential|api_?key", re.IGNORECASE)
ENV_PREFIX = "TIKRELAY_"
ENV_NESTING = "__"
MAX_KEY_LENGTH = 200
#: Values nest this deep at most (the settings' own mappings nest three levels).
MAX_DEPTH = 16
#: The catalog is changed through its own routes and commands, not as settings.
CATALOG = {
    "sources": "change sources on the Sources page, with /api/sources or `tikrelay sources`: "
    "they are not settings written here",
    "destinations": "add destinations with `tikrelay destinations add`, or in the config file "
    "by hand: they are not settings written here",
}
#: Keys that decide where tikrelay sends its secrets and traffic, what it runs, or who reaches
#: the dashboard: written by hand in the file only. Whoever holds the web token must not be able
#: to send the bot token to another server (telegram.api_url), source traffic and cookies
#: through another proxy, turn TLS checks off, pick the program run as ffmpeg, or open the
#: dashboard wider.
GUARDED = frozenset(
    {
        "state_dir",
        "database_url",
        "ffmpeg",
        "telegram.api_url",
        "tiktok_app.api_url",
        "tiktok_app.auth_url",
        "tiktok_app.redirect_uri",
        "telegram.local_mode",
        "network.proxies",
        "network.verify_tls",
        "network.ca_bundle",
        "network.cookies_file",
        "network.tiktok_api_hostname",
        "notify.email.smtp_url",
        "notify.email.ca_bundle",
        "bot.webhook_url",
        "bot.webhook_listen",
        "web.listen",
        "web.auth",
    }
)
Kind = Literal["bool", "choice", "number", "list", "text", "mapping"]
Refusal = Literal["malformed", "unknown", "secret", "catalog", "section", "overlap", "guarded"]


class SettingsWriteError(Exception):
    """A write refused; nothing was written. The message names the key and the fix."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class KeyRefusedError(SettingsWriteError):
    """The key cannot be written here at all (``reason`` says why)."""

    def __init__(self, message: str, key: str, reason: Refusal) -> None:
        super().__init__(message, key)
        self.reason = reason


class KeyOverriddenError(SettingsWriteError):
    """An environment variable sets the key; it would win over the file."""

    def __init__(self, key: str, variable: str) -> None:
        super().__init__(
            f"{key} is set by {variable} in the environment, which wins over the config file: "
            f"change or unset {variable} instead (then restart)",
            key,
        )
        self.variable = variable


class InvalidSettingsError(SettingsWriteError):
    """The file with the change would not load: ``key`` is the written key at fault, None when
    only the change as a whole is (or the file was wrong already)."""


@dataclass(frozen=True)
class SettingKey:
    """A key that may be written, and how its value is typed: ``integer`` for whole numbers, list
    items that are numbers, and a text that may also be a number (a chat id)."""

    name: str
    parts: tuple[str, ...]
    kind: Kind
    optional: bool = False
    integer: bool = False
    choices: tuple[str, ...] = ()


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type without ``Annotated`` and ``None``; whether ``None`` is allowed."""
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = get_args(annotation)
            rest = tuple(arg for arg in args if arg is not type(None))
            optional = optional or len(rest) < len(args)
            if len(rest) != 1:
                return rest, optional
            annotation = rest[0]
        else:
            return annotation, optional


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _key_names(model: type[BaseModel] = Settings, prefix: str = "") -> Iterator[str]:
    """Every key of the settings' classes, a name the user chooses as ``NAME``."""
    for name, field in model.model_fields.items():
        inner, _ = _unwrap(field.annotation)
        if _is_model(inner):
            yield from _key_names(inner, f"{prefix}{name}.")
        elif get_origin(inner) is dict and _is_model(_unwrap(get_args(inner)[1])[0]):
            yield from _key_names(_unwrap(get_args(inner)[1])[0], f"{prefix}{name}.NAME.")
        else:
            yield f"{prefix}{name}"


def _unknown(name: str) -> KeyRefusedError:
    known = [key for key in _key_names() if key.split(".")[0] not in CATALOG]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return KeyRefusedError(
        f"{name}: unknown key{hint}: check its spelling against docs/configuration.md",
        name,
        "unknown",
    )


def secret_key(name: str, annotation: Any = None) -> bool:
    """The key holds a secret: its type is ``SecretStr`` (or a list of them, such as Apprise
    URLs), or its last name says so."""
    inner, _ = _unwrap(annotation)
    if get_origin(inner) is list:
        inner, _ = _unwrap(get_args(inner)[0])
    return inner is SecretStr or bool(SECRET_NAME.search(name.rsplit(".", 1)[-1]))


def _kind(inner: Any) -> tuple[Kind, bool, tuple[str, ...]]:
    """(kind, integer, choices) of a key that is not a section."""
    if inner is bool:
        return "bool", False, ()
    if get_origin(inner) is Literal:
        return "choice", False, tuple(str(choice) for choice in get_args(inner))
    if inner in (int, float):
        return "number", inner is int, ()
    if get_origin(inner) is list:
        return "list", _unwrap(get_args(inner)[0])[0] is int, ()
    if get_origin(inner) is dict:
        return "mapping", False, ()
    if isinstance(inner, tuple):  # a union of several types: an id, a number or a name
        return "text", int in (_unwrap(arg)[0] for arg in inner), ()
    return "text", False, ()


def setting_key(name: str) -> SettingKey:
    """The key ``name`` (dotted), if it may be written; else KeyRefusedError naming it."""
    parts = tuple(name.split("."))
    if not name or len(name) > MAX_KEY_LENGTH or not all(part.strip() for part in parts):
        shown = name[:MAX_KEY_LENGTH]
        raise KeyRefusedError(
            f"{shown!r} is not a key: write a dotted key such as jobs.max_attempts",
            shown,
            "malformed",
        )
    if parts[0] in CATALOG:
        raise KeyRefusedError(f"{name}: {CATALOG[parts[0]]}", name, "catalog")
    annotation: Any = Settings
    for part in parts:
        inner, _ = _unwrap(annotation)
        if _is_model(inner) and part in inner.model_fields:
            annotation = inner.model_fields[part].annotation
        elif get_origin(inner) is dict:
            annotation = get_args(inner)[1]
        else:
            raise _unknown(name)
    inner, optional = _unwrap(annotation)
    if secret_key(name, annotation):
        variable = TOKEN_ENV if name == "telegram.bot_token" else _variable(parts)
        raise KeyRefusedError(
            f"{name} is a secret: it is never written (nor shown) by the dashboard; set "
            f"{variable} in the environment",
            name,
            "secret",
        )
    if name in GUARDED:
        raise KeyRefusedError(
            f"{name} decides where tikrelay sends its secrets and traffic, what it runs or who "
            "reaches this dashboard: change it in the config file by hand",
            name,
            "guarded",
        )
    if _is_model(inner):
        some = ", ".join(f"{name}.{field}" for field in list(inner.model_fields)[:2])
        raise KeyRefusedError(
            f"{name} is a section: write its keys one by one ({some}, …)", name, "section"
        )
    kind, integer, choices = _kind(inner)
    return SettingKey(name, parts, kind, optional, integer, choices)


def _variable(parts: tuple[str, ...]) -> str:
    return ENV_PREFIX + ENV_NESTING.join(parts).upper()


def _holds(text: str, parts: tuple[str, ...]) -> bool:
    """A section given whole as JSON in a variable holds the key ``parts`` inside it."""
    try:
        found: Any = json.loads(text)
    except ValueError:
        return False
    for part in parts:
        if not isinstance(found, dict) or part not in found:
            return False
        found = found[part]
    return True


def overriding_variable(key: SettingKey, environ: Mapping[str, str]) -> str | None:
    """The variable of ``environ`` that sets ``key`` (the environment wins over the file, its
    names in any case, as pydantic-settings reads them), or None."""
    names = {name.upper(): name for name in environ}
    for depth in range(1, len(key.parts) + 1):
        found = names.get(_variable(key.parts[:depth]))
        if found is None:
            continue
        # A whole section in one variable (JSON) is merged over the file: it wins only where
        # it holds the key.
        if depth == len(key.parts) or _holds(environ[found], key.parts[depth:]):
            return found
    inside = _variable(key.parts) + ENV_NESTING  # a key of a mapping that is written whole
    return next((name for upper, name in names.items() if upper.startswith(inside)), None)


def value_at(settings: Settings, parts: tuple[str, ...]) -> Any:
    """The value of the key ``parts`` in ``settings`` (None where it has none)."""
    found: Any = settings
    for part in parts:
        if isinstance(found, BaseModel):
            found = getattr(found, part, None)
        elif isinstance(found, dict):
            found = found.get(part)
        else:
            return None
    return found


def checked_keys(changes: Mapping[str, Any], environ: Mapping[str, str]) -> list[SettingKey]:
    """The keys of ``changes``, each one that may be written, or the first refusal."""
    keys = [setting_key(name) for name in changes]
    for key in keys:
        for other in keys:
            if other is not key and other.parts[: len(key.parts)] == key.parts:
                raise KeyRefusedError(
                    f"{other.name} is inside {key.name}, which is written too: write one of them",
                    other.name,
                    "overlap",
                )
    for key, value in zip(keys, changes.values(), strict=True):
        problem = _unwritable(value)
        if problem is not None:
            raise InvalidSettingsError(f"{key.name}: {problem}", key.name)
    for key in keys:
        variable = overriding_variable(key, environ)
        if variable is not None:
            raise KeyOverriddenError(key.name, variable)
    return keys


def _unwritable(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` cannot be written to a YAML file in UTF-8 (JSON lets NaN and lone
    surrogates through), or None."""
    if depth > MAX_DEPTH:
        return f"the value nests more than {MAX_DEPTH} levels deep"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a number: write a finite number"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "the text holds characters that UTF-8 cannot store"
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    if isinstance(items, list):
        found = (_unwritable(item, depth + 1) for item in items)
        return next((problem for problem in found if problem is not None), None)
    return None
