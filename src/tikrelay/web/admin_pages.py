"""The settings page (every setting in force, secrets as set or unset only) and the logs page
(the recent log lines of this process, ``web.logbook``, filterable by job and level).

No value of a secret is ever shown: a ``SecretStr`` setting, or any key whose name says
token, secret, password, credential or api key, shows ``set`` or ``unset``; every other text
has bot tokens and the passwords of URLs (``scheme://user:password@host``, or a proxy written
``user:password@host``) replaced by ``[redacted]``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, SecretStr

from tikrelay.config.logging import REDACTED, redact_text
from tikrelay.config.settings import WEB_TOKEN_ENV
from tikrelay.web.jobs import MAX_JOB_ID
from tikrelay.web.logbook import LEVELS
from tikrelay.web.views import Context, PageViewer, render

router = APIRouter(include_in_schema=False)
SECRET_NAME = re.compile(r"token|secret|password|credential|api_?key", re.IGNORECASE)
#: ``user:password@`` at the start of a value or after ``://``.
USERINFO = re.compile(r"(^|://)([^:/@\s]+):[^@/\s]+@")
MAX_LOG_LINES = 500


def _shown(key: str, value: Any) -> str:
    if isinstance(value, SecretStr) or SECRET_NAME.search(key.rsplit(".", 1)[-1]):
        return "unset" if value in (None, "") else "set"
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return USERINFO.sub(rf"\1\2:{REDACTED}@", redact_text(text))


def _scalar(value: Any) -> bool:
    return not isinstance(value, BaseModel | dict | list | tuple)


def _join(prefix: str, name: object) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def setting_rows(value: Any, key: str = "") -> list[tuple[str, str]]:
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
            return [(key, ", ".join(_shown(key, item) for item in value) or "[]")]
        return [row for n, item in enumerate(value) for row in setting_rows(item, _join(key, n))]
    return [(key, _shown(key, value))]


@router.get("/settings")
def settings_page(request: Request, context: Context, viewer: PageViewer) -> Response:
    runtime = context.runtime
    rows = setting_rows(runtime.settings)
    values = {
        "rows": rows,
        "config_file": str(runtime.config_file) if runtime.config_file else None,
        "web_token": "unset (web.auth: none)" if context.token is None else "set",
        "web_token_env": WEB_TOKEN_ENV,
    }
    return render(request, "settings.html", values, viewer)


@router.get("/logs")
def logs_page(
    request: Request,
    context: Context,
    viewer: PageViewer,
    job: Annotated[str, Query(max_length=20)] = "",
    level: Annotated[str, Query(max_length=20)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_LOG_LINES)] = 200,
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
