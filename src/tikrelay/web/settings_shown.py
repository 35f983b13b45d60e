"""Every setting in force as the dashboard shows it, for the settings page and
``GET /api/settings`` alike: dotted keys in the order of the settings' classes, and no value of a
secret.

A ``SecretStr`` setting, or any key whose name says token, secret, password, credential or api
key, shows ``set`` or ``unset``; every other text has bot tokens and the passwords of URLs
(``scheme://user:password@host``, or a proxy written ``user:password@host``) replaced by
``[redacted]``. A setting without a value is None (the page shows a dash, the API null).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, SecretStr

from tikrelay.config.logging import REDACTED, redact_text
from tikrelay.web.context import WebContext

SECRET_NAME = re.compile(r"token|secret|password|credential|api_?key", re.IGNORECASE)
#: ``user:password@`` at the start of a value or after ``://``.
USERINFO = re.compile(r"(^|://)([^:/@\s]+):[^@/\s]+@")

SecretState = Literal["set", "unset"]


def _shown(key: str, value: Any) -> str | None:
    if isinstance(value, SecretStr) or SECRET_NAME.search(key.rsplit(".", 1)[-1]):
        return "unset" if value in (None, "") else "set"
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return USERINFO.sub(rf"\1\2:{REDACTED}@", redact_text(text))


def _scalar(value: Any) -> bool:
    return not isinstance(value, BaseModel | dict | list | tuple)


def _join(prefix: str, name: object) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def setting_rows(value: Any, key: str = "") -> list[tuple[str, str | None]]:
    """Every setting as (dotted key, value shown), in the order of the settings' classes."""
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return [
            row for name in fields for row in setting_rows(getattr(value, name), _join(key, name))
        ]
    if isinstance(value, dict):
        if not value:
            return [(key, "{}")]
        return [row for name, item in value.items() for row in setting_rows(item, _join(key, name))]
    if isinstance(value, list | tuple):
        if all(_scalar(item) for item in value):
            return [(key, ", ".join(_shown(key, item) or "" for item in value) or "[]")]
        return [row for n, item in enumerate(value) for row in setting_rows(item, _join(key, n))]
    return [(key, _shown(key, value))]


@dataclass(frozen=True)
class SettingsShown:
    rows: list[tuple[str, str | None]]
    config_file: str | None  # None: settings from the environment and the defaults only
    web_token: SecretState  # unset only with web.auth: none


def settings_shown(context: WebContext) -> SettingsShown:
    runtime = context.runtime
    return SettingsShown(
        rows=setting_rows(runtime.settings),
        config_file=str(runtime.config_file) if runtime.config_file else None,
        web_token="unset" if context.token is None else "set",
    )
