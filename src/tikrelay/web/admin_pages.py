"""The settings page (every setting, secrets as set or unset only: ``web.settings_shown``; the
non-secret ones written into the config file by its form: ``config.edit``) and the logs page
(the recent log lines of this process, ``web.logbook``, filterable by job and level).
``web.admin_api`` answers the same as JSON.

The settings form has one field per key that may be written, holding what the config file says
now; saving writes only the fields that were changed (post, redirect, get), and a refused save
shows the page again with the message, which names the key. What is saved takes effect when
tikrelay restarts: until then such a key is marked, with the value still in force beside it.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tikrelay.config import edit
from tikrelay.config.logging import REDACTED
from tikrelay.config.setting_keys import (
    KeyOverriddenError,
    KeyRefusedError,
    SettingKey,
    SettingsWriteError,
    overriding_variable,
    setting_key,
    value_at,
)
from tikrelay.config.settings import WEB_TOKEN_ENV, Settings
from tikrelay.web.jobs import MAX_JOB_ID
from tikrelay.web.logbook import DEFAULT_READ, LEVELS, MAX_READ
from tikrelay.web.settings_shown import SettingsShown, setting_rows, settings_shown
from tikrelay.web.views import Context, FormViewer, PageViewer, Viewer, go, render

router = APIRouter(include_in_schema=False)
#: The web token's state as the page words it: unset only with web.auth: none.
STATE_SHOWN = {"set": "set", "unset": "unset (web.auth: none)"}
#: Why a key has no field, by why it cannot be written (``config.setting_keys``).
NO_FIELD = {
    "secret": "a secret: it comes from the environment, never from this form",
    "guarded": "decides where secrets and traffic go or what runs: change it in the config file",
    "sources": "sources are changed on the Sources page",
    "destinations": "destinations are added with tikrelay destinations add, or in the file",
}
IN_THE_FILE = "change it in the config file"
#: The longest text a field takes.
MAX_FIELD = 2000
WHOLE = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class SettingRow:
    """One key as the page shows it: its value (as the config file has it now, when there is
    one), a field to change it or a note on why there is none, and whether the value in force
    in this process is another one (until a restart)."""

    key: str
    value: str | None
    field: SettingKey | None
    text: str  # the field's text: the value as the form writes it
    note: str
    pending: bool
    in_force: str | None


class _FieldError(Exception):
    """A field's text is not a value of its key; the message names the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _text(value: Any) -> str:
    """A value as its field holds it: a whole float without ``.0``, a list joined by commas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value).removesuffix(".0")
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    return str(value)


def _field(key: str, shown: str | None) -> tuple[SettingKey | None, str]:
    """The key's field and what it does besides, or None and why it has none."""
    try:
        found = setting_key(key)
    except KeyRefusedError as exc:
        reason = key.split(".")[0] if exc.reason == "catalog" else exc.reason
        return None, NO_FIELD.get(reason, IN_THE_FILE)
    variable = overriding_variable(found, os.environ)
    if variable is not None:
        return None, f"set by {variable} in the environment, which wins over the file"
    if found.kind == "mapping":
        return None, f"{IN_THE_FILE}, or with PATCH /api/settings"
    if shown is not None and REDACTED in shown:
        return None, f"holds a password: {IN_THE_FILE}"
    return found, ""


def setting_table(shown: SettingsShown, in_force: Settings) -> list[SettingRow]:
    """Every key, as the config file has it now (when there is one and it loads), with a field
    for each key that may be written; keys the file no longer has come last."""
    now = dict(shown.rows)
    source = shown.saved or in_force
    later = now if shown.saved is None else dict(setting_rows(shown.saved))
    keys = [*later, *(key for key in now if key not in later)]
    table = []
    for key in keys:
        value = later.get(key)
        field, note = _field(key, value) if shown.config_file else (None, "")
        text = _text(value_at(source, field.parts)) if field is not None else ""
        table.append(SettingRow(key, value, field, text, note, key in shown.pending, now.get(key)))
    return table


def _parsed(field: SettingKey, text: str) -> Any:
    """The value a field's text stands for, as the config file would hold it; empty is no
    value (for a key that may have none), a list is separated by commas."""
    text = text.strip()
    name = field.name
    if field.kind == "bool":
        if text not in ("true", "false"):
            raise _FieldError(name, f"{name}: choose true or false")
        return text == "true"
    if field.kind == "list":
        items = [item.strip() for item in text.split(",") if item.strip()]
        return [_number(name, item, whole=True) if field.integer else item for item in items]
    if not text:
        if field.optional:
            return None
        raise _FieldError(name, f"{name}: enter a value (it may not be empty)")
    if field.kind == "number":
        return _number(name, text, whole=field.integer)
    if field.integer and WHOLE.fullmatch(text):  # a chat id, or a @name
        return int(text)
    return text


def _number(name: str, text: str, *, whole: bool) -> int | float:
    if WHOLE.fullmatch(text):
        return int(text)
    try:
        found = float(text)
    except ValueError:
        found = math.nan
    if whole or not math.isfinite(found):
        kind = "a whole number" if whole else "a number"
        raise _FieldError(name, f"{name}: {text!r} is not {kind}")
    return found


async def _form_fields(request: Request) -> dict[str, str]:
    """Every text field of the posted form (FastAPI has read it already for the CSRF value)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


FormFields = Annotated[dict[str, str], Depends(_form_fields)]


@dataclass(frozen=True)
class _Problem:
    key: str | None
    message: str


def _page(
    request: Request,
    context: Context,
    viewer: Viewer,
    *,
    notice: str | None = None,
    problem: _Problem | None = None,
    typed: dict[str, str] | None = None,
    status: int = HTTPStatus.OK,
) -> Response:
    shown = settings_shown(context)
    rows = setting_table(shown, context.runtime.settings)
    values = {
        "rows": rows,
        "typed": typed or {},
        "config_file": shown.config_file,
        "config_problem": shown.config_problem,
        "pending": len(shown.pending),
        "editable": any(row.field is not None for row in rows),
        "web_token": STATE_SHOWN[shown.web_token],
        "web_token_env": WEB_TOKEN_ENV,
        "notice": notice,
        "problem": problem,
    }
    return render(request, "settings.html", values, viewer, status=status)


@router.get("/settings")
def settings_page(
    request: Request,
    context: Context,
    viewer: PageViewer,
    saved: Annotated[str | None, Query(max_length=5000)] = None,
) -> Response:
    notice = None
    if saved == "":
        notice = "Nothing to save: no field was changed."
    elif saved:
        notice = (
            f"Saved {saved.replace(',', ', ')} in {context.runtime.config_file}: in force when "
            "tikrelay restarts."
        )
    return _page(request, context, viewer, notice=notice)


@router.post("/settings")
def save_settings(
    request: Request, context: Context, viewer: FormViewer, fields: FormFields
) -> Response:
    """Write the fields whose text differs from what the config file holds now."""
    shown = settings_shown(context)
    changes = {}
    try:
        for row in setting_table(shown, context.runtime.settings):
            typed = fields.get(row.key)
            if row.field is None or typed is None or typed.strip() == row.text:
                continue
            if len(typed) > MAX_FIELD:
                raise _FieldError(row.key, f"{row.key}: at most {MAX_FIELD} characters")
            changes[row.key] = _parsed(row.field, typed)
        if changes or context.runtime.config_file is None:  # without a file: why nothing
            edit.write_settings(context.runtime.config_file, changes)
    except _FieldError as exc:
        problem, status = _Problem(exc.key, str(exc)), HTTPStatus.UNPROCESSABLE_ENTITY
    except SettingsWriteError as exc:
        problem = _Problem(exc.key, str(exc))
        conflict = isinstance(exc, edit.ConfigFileError | KeyOverriddenError)
        status = HTTPStatus.CONFLICT if conflict else HTTPStatus.UNPROCESSABLE_ENTITY
    else:
        return go(f"/settings?{urlencode({'saved': ','.join(changes)})}")
    return _page(request, context, viewer, problem=problem, typed=fields, status=status)


@router.get("/logs")
def logs_page(
    request: Request,
    context: Context,
    viewer: PageViewer,
    job: Annotated[str, Query(max_length=20)] = "",
    level: Annotated[str, Query(max_length=20)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_READ)] = DEFAULT_READ,
) -> Response:
    """The filters come from a form whose empty fields mean "any"."""
    problem = None
    job_id = int(job) if job.strip().isdigit() and 0 < int(job) <= MAX_JOB_ID else None
    if job.strip() and job_id is None:
        problem = f"job: {job!r} is not a job id (a whole number)"
    if level and level not in LEVELS:
        problem = f"level: {level!r} is not one of {', '.join(LEVELS)}"
    wanted = level if level in LEVELS else None
    lines = context.logbook.lines(job_id=job_id, level=wanted, limit=limit)
    values = {
        "lines": lines,
        "filters": {"job": job, "level": level},
        "levels": LEVELS,
        "problem": problem,
    }
    return render(request, "logs.html", values, viewer)
