"""Every setting as the dashboard shows it, for the settings page and ``GET /api/settings``
alike: dotted keys in the order of the settings' classes, and no value of a secret.

A ``SecretStr`` setting, or any key whose name says token, secret, password, credential or api
key (``config.setting_keys``, the rule that also keeps such keys from being written), shows
``set`` or ``unset``; every other text has bot tokens and the passwords of URLs
(``scheme://user:password@host``, or a proxy written ``user:password@host``) replaced by
``[redacted]``. A setting without a value is None (the page shows a dash, the API null).

Besides the settings in force in this process, the config file is read again as the next start
will load it: a key written since the start (by the settings form, ``PATCH /api/settings`` or an
editor) is *pending* while the value in force is another one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, SecretStr

from tikrelay.config import ConfigError, Settings, load_settings
from tikrelay.config.logging import REDACTED, redact_text
from tikrelay.config.setting_keys import SECRET_NAME
from tikrelay.web.context import WebContext

#: ``user:password@`` at the start of a value or after ``://``.
USERINFO = re.compile(r"(^|://)([^:/@\s]+):[^@/\s]+@")

SecretState = Literal["set", "unset"]
#: (dotted key, value shown) in the order of the settings' classes.
Rows = list[tuple[str, str | None]]


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


def setting_rows(value: Any, key: str = "") -> Rows:
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
    rows: Rows  # in force in this process
    config_file: str | None  # None: settings from the environment and the defaults only
    web_token: SecretState  # unset only with web.auth: none
    saved: Settings | None  # the config file as the next start loads it (None: none, or broken)
    config_problem: str | None  # why the config file does not load now
    pending: dict[str, str | None]  # keys the next start loads otherwise: their value shown


def pending_rows(rows: Rows, saved: Settings) -> dict[str, str | None]:
    """The keys whose value in ``saved`` differs from ``rows`` (in force): the saved value, or
    None for a key the saved settings no longer have."""
    now = dict(rows)
    later = dict(setting_rows(saved))
    changed = {key: value for key, value in later.items() if key not in now or now[key] != value}
    return changed | {key: None for key in now if key not in later}


def settings_shown(context: WebContext) -> SettingsShown:
    runtime = context.runtime
    rows = setting_rows(runtime.settings)
    saved, problem = None, None
    if runtime.config_file is not None:
        try:
            saved = load_settings(runtime.config_file)
        except ConfigError as exc:
            problem = str(exc)
    return SettingsShown(
        rows=rows,
        config_file=str(runtime.config_file) if runtime.config_file else None,
        web_token="unset" if context.token is None else "set",
        saved=saved,
        config_problem=problem,
        pending=pending_rows(rows, saved) if saved is not None else {},
    )
