"""``/api/settings`` and ``GET /api/logs``: what the settings and logs pages show and do, as
JSON. Every setting in force with secrets as set or unset only (``web.settings_shown``), the
non-secret ones written into the config file (``config.edit``: they take effect at the next
start), and the recent log lines of this process from its ring (``web.logbook``), newest
first."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from tikrelay.config import edit
from tikrelay.config.setting_keys import MAX_KEY_LENGTH, KeyOverriddenError, SettingsWriteError
from tikrelay.config.settings import WEB_TOKEN_ENV
from tikrelay.web.auth import require_auth
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.jobs import MAX_JOB_ID
from tikrelay.web.logbook import DEFAULT_READ, MAX_READ, Level, LogLine
from tikrelay.web.problems import BAD_BODY, FORBIDDEN, UNAUTHORIZED, conflict, problem
from tikrelay.web.settings_shown import SecretState, pending_rows, setting_rows, settings_shown

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
    pending: dict[str, str | None] = Field(
        description=(
            "The keys the config file now holds otherwise than this process runs with (written "
            "since it started): the saved value, shown as in settings. They take effect when "
            "the process restarts."
        )
    )
    config_problem: str | None = Field(
        description="Why the config file would not load now (then pending is empty); null: "
        "it loads, or there is none."
    )


#: At most this many keys in one write.
MAX_WRITTEN = 100
SettingName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH)]


class SettingsPatch(BaseModel):
    """Keys to write into the config file, each by its dotted name, with its value as the file
    would hold it (null: no value, for a key that may have none)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"settings": {"jobs.max_attempts": 7, "delivery.keep_media_hours": 12}}]
        },
    )

    settings: dict[SettingName, JsonValue] = Field(min_length=1, max_length=MAX_WRITTEN)


class SettingsWritten(BaseModel):
    """What was written, and what waits for a restart."""

    written: list[str] = Field(description="The keys written, as asked.")
    config_file: str = Field(description="The file written, in place.")
    restart_needed: bool = Field(
        description="The file now holds settings this process does not run with: they take "
        "effect when it (and any other tikrelay process reading the file) restarts."
    )
    pending: dict[str, str | None] = Field(
        description="As in GET /api/settings: the keys waiting for a restart, their saved value."
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
    """Every setting in force, secrets as set or unset only, and those saved in the config file
    since the start (``pending``: in force after a restart)."""
    shown = settings_shown(context)
    return SettingsOut(
        config_file=shown.config_file,
        web_token=shown.web_token,
        settings=dict(shown.rows),
        pending=shown.pending,
        config_problem=shown.config_problem,
    )


def refusal(exc: SettingsWriteError) -> HTTPException:
    """A refused write as the API answers it: 409 when the file or the environment is in the
    way, else 422 naming the key in ``loc`` (``["body", "settings", KEY]``)."""
    if isinstance(exc, edit.ConfigFileError | KeyOverriddenError):
        return conflict(str(exc))
    where = ["body", "settings"] + ([exc.key] if exc.key is not None else [])
    return HTTPException(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        detail=[{"loc": where, "msg": str(exc), "type": "value_error"}],
    )


@router.patch(
    "/settings",
    responses={
        **BAD_BODY,
        **FORBIDDEN,
        **problem(
            409,
            "No config file (settings from the environment), an environment variable sets the "
            "key, or the file cannot be read or written as it stands.",
        ),
    },
)
def write_settings(context: Context, patch: SettingsPatch) -> SettingsWritten:
    """Write non-secret settings into the config file this process was started with, in
    place, keeping its comments; they take effect when the process restarts. Refused, naming
    the key, with nothing written: a secret, ``sources`` and ``destinations`` (their own
    routes), a section as a whole, an unknown key, a value the settings do not take (422); a
    key an environment variable sets, or no config file (409)."""
    runtime = context.runtime
    try:
        written = edit.write_settings(runtime.config_file, patch.settings)
    except SettingsWriteError as exc:
        raise refusal(exc) from None
    pending = pending_rows(setting_rows(runtime.settings), written.settings)
    return SettingsWritten(
        written=written.keys,
        config_file=str(runtime.config_file),
        restart_needed=bool(pending),
        pending=pending,
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
