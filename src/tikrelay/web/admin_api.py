"""``GET /api/settings`` and ``GET /api/logs``: what the settings and logs pages show, as JSON.
Every setting in force with secrets as set or unset only (``web.settings_shown``), and the
recent log lines of this process from its ring (``web.logbook``), newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from tikrelay.config.settings import WEB_TOKEN_ENV
from tikrelay.web.auth import require_auth
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.jobs import MAX_JOB_ID
from tikrelay.web.logbook import DEFAULT_READ, MAX_READ, Level, LogLine
from tikrelay.web.problems import UNAUTHORIZED
from tikrelay.web.settings_shown import SecretState, settings_shown

router = APIRouter(
    prefix="/api", tags=["admin"], dependencies=[Depends(require_auth)], responses=UNAUTHORIZED
)
Context = Annotated[WebContext, Depends(web_context)]


class SettingsOut(BaseModel):
    """Every setting in force in this process. A secret is only ``set`` or ``unset``; the
    passwords of URLs and proxies and any bot token in a text are ``[redacted]``."""

    config_file: str | None = Field(
        description="The config file read; null: the environment and the defaults only."
    )
    web_token: SecretState = Field(
        description=f"Whether {WEB_TOKEN_ENV} is in force (unset only with web.auth: none)."
    )
    settings: dict[str, str | None] = Field(
        description=(
            "By dotted key (e.g. jobs.keep_days), in the order of the configuration reference: "
            "the value as text, a list joined by commas; null: no value."
        )
    )


class LogLineOut(BaseModel):
    """One log line, its secrets redacted; a long value is cut at 500 characters."""

    number: int = Field(description="Counts every line this process logged, from 1.")
    at: str = Field(description="ISO 8601, as the log wrote it; empty without a time.")
    level: str
    event: str
    job_id: int | None
    details: dict[str, str] = Field(description="The line's other fields, as text.")

    @classmethod
    def of(cls, line: LogLine) -> LogLineOut:
        return cls(
            number=line.number,
            at=line.at,
            level=line.level,
            event=line.event,
            job_id=line.job_id,
            details=line.details,
        )


class LogsOut(BaseModel):
    lines: list[LogLineOut] = Field(description="Newest first.")


@router.get("/settings")
def show_settings(context: Context) -> SettingsOut:
    """Every setting in force, secrets as set or unset only (read-only: change the config file
    and restart)."""
    shown = settings_shown(context)
    return SettingsOut(
        config_file=shown.config_file, web_token=shown.web_token, settings=dict(shown.rows)
    )


@router.get("/logs")
def list_logs(
    context: Context,
    job: Annotated[
        int | None, Query(ge=1, le=MAX_JOB_ID, description="Only lines of this job id.")
    ] = None,
    level: Annotated[Level | None, Query(description="Only lines at this level or above.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_READ, description="Lines at most.")] = DEFAULT_READ,
) -> LogsOut:
    """The recent log lines of this process, newest first: the ring keeps the last 2,000 lines
    in memory (under ``tikrelay web`` alone, only the web's own); the whole log is on stderr."""
    lines = context.logbook.lines(job_id=job, level=level, limit=limit)
    return LogsOut(lines=[LogLineOut.of(line) for line in lines])
