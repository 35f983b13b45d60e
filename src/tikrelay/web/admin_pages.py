"""The settings page (every setting in force, secrets as set or unset only: ``web.settings_shown``)
and the logs page (the recent log lines of this process, ``web.logbook``, filterable by job and
level). ``web.admin_api`` answers the same as JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from tikrelay.config.settings import WEB_TOKEN_ENV
from tikrelay.web.jobs import MAX_JOB_ID
from tikrelay.web.logbook import DEFAULT_READ, LEVELS, MAX_READ
from tikrelay.web.settings_shown import settings_shown
from tikrelay.web.views import Context, PageViewer, render

router = APIRouter(include_in_schema=False)
#: The web token's state as the page words it: unset only with web.auth: none.
STATE_SHOWN = {"set": "set", "unset": "unset (web.auth: none)"}


@router.get("/settings")
def settings_page(request: Request, context: Context, viewer: PageViewer) -> Response:
    shown = settings_shown(context)
    values = {
        "rows": shown.rows,
        "config_file": shown.config_file,
        "web_token": STATE_SHOWN[shown.web_token],
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
