"""The pages a browser sees: the login form, logging out, and the overview at ``/``.

Logging in trades the web token for a session cookie (``web.sessions``). The login form has a
CSRF token of its own before any session exists: a random value both in a hidden field and in a
short-lived cookie only ``/login`` receives, which must match (a page on another site can post
the form but can neither read nor set that cookie). After login, each form carries the session's
CSRF token. Failed logins are limited per client address (429 with Retry-After).

The token is read from the form and compared; it is never put in a page, a cookie or a log line.
Pages are server-rendered by Jinja2 (autoescaped), load only tikrelay's own style sheet and
scripts, and send a Content-Security-Policy that allows nothing else (``web.views``).
"""

from __future__ import annotations

import secrets
from datetime import UTC
from http import HTTPStatus
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from tikrelay.domain.jobs import ACTIVE_STATUSES, JobStatus
from tikrelay.store.web_sql import stats
from tikrelay.web.auth import CSRF_HEADER, SESSION_COOKIE
from tikrelay.web.context import WebContext
from tikrelay.web.sessions import SESSION_SECONDS, Session, same_token
from tikrelay.web.views import PAGE_HEADERS, Context, PageViewer, go, render

log = structlog.get_logger("tikrelay.web")

LOGIN_COOKIE = "tikrelay_login"
#: The login form's own CSRF value lasts this long: a form left open longer is reloaded.
LOGIN_FORM_SECONDS = 3600
#: The longest token the form takes (the real one is at least 16 characters).
MAX_TOKEN_FIELD = 1024
#: The statuses of the overview's queue chart: every one but COMPLETED, each counted by its
#: own partial index (completed jobs are most of the table and are counted nowhere cheaply).
QUEUE_STATUSES = (
    JobStatus.PENDING,
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
)
#: Days of the overview's charts.
OVERVIEW_DAYS = 30

router = APIRouter(include_in_schema=False)


def _secure(request: Request) -> bool:
    """The request came over https (directly, or through a proxy uvicorn trusts)."""
    return request.url.scheme == "https"


def _session(request: Request, context: WebContext) -> tuple[str | None, Session | None]:
    session_id = request.cookies.get(SESSION_COOKIE)
    return session_id, context.sessions.find(session_id)


def _login_page(
    request: Request, message: str | None = None, status: int = HTTPStatus.OK
) -> Response:
    """The form, with a fresh CSRF value in its hidden field and in the login cookie."""
    nonce = secrets.token_urlsafe(32)
    page = render(request, "login.html", {"login_csrf": nonce, "message": message}, status=status)
    page.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_FORM_SECONDS,
        path="/login",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return page


@router.get("/login")
def login_form(request: Request, context: Context) -> Response:
    if context.token is None or _session(request, context)[1] is not None:
        return go("/")
    return _login_page(request)


@router.post("/login")
def login(
    request: Request,
    context: Context,
    token: Annotated[str, Form(max_length=MAX_TOKEN_FIELD)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The right token starts a session; a wrong one counts against the client's address."""
    if context.token is None:
        return go("/")
    address = request.client.host if request.client else "unknown"
    wait = context.logins.wait_seconds(address)
    if wait:
        page = _login_page(
            request,
            f"Too many failed logins from your address: try again in {wait} seconds.",
            HTTPStatus.TOO_MANY_REQUESTS,
        )
        page.headers["Retry-After"] = str(wait)
        return page
    if not same_token(csrf, request.cookies.get(LOGIN_COOKIE, "")):
        return _login_page(
            request, "The form expired: enter the token again.", HTTPStatus.FORBIDDEN
        )
    if not token:
        return _login_page(request, "Enter the web token.", HTTPStatus.UNPROCESSABLE_ENTITY)
    if not same_token(token, context.token.get_secret_value()):
        context.logins.failed(address)
        log.warning("web_login_failed", client=address)
        return _login_page(request, "Wrong token.", HTTPStatus.UNAUTHORIZED)
    session_id, _ = context.sessions.start()
    log.info("web_login", client=address)
    answer = go("/")
    answer.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=SESSION_SECONDS,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    answer.delete_cookie(LOGIN_COOKIE, path="/login", secure=_secure(request), httponly=True)
    return answer


@router.post("/logout")
def logout(
    request: Request,
    context: Context,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """End the session (the CSRF token in the form, or in X-CSRF-Token)."""
    session_id, session = _session(request, context)
    if session is not None:
        given = csrf or request.headers.get(CSRF_HEADER)
        if not same_token(given, session.csrf):
            return Response(
                "log out from the dashboard's own page (the CSRF token is missing or wrong)",
                status_code=HTTPStatus.FORBIDDEN,
                media_type="text/plain",
                headers=PAGE_HEADERS,
            )
        context.sessions.end(session_id)
    answer = go("/login")
    answer.delete_cookie(
        SESSION_COOKIE, path="/", secure=_secure(request), httponly=True, samesite="strict"
    )
    return answer


@router.get("/")
def overview(request: Request, context: Context, viewer: PageViewer) -> Response:
    """The overview: the catalog, the queue, and the last 30 days in charts (each chart drawn
    from the table below it, which is what a page without script shows)."""
    runtime = context.runtime
    counts = runtime.queue.counts_of(QUEUE_STATUSES)
    catalog = runtime.catalog()
    sources = catalog.source_entries()
    today = runtime.queue.clock().astimezone(UTC).date()
    figures = stats(runtime.queue.engine, today, OVERVIEW_DAYS)
    values = {
        "jobs": [(status.value, counts[status]) for status in QUEUE_STATUSES],
        "waiting": sum(counts.get(status, 0) for status in ACTIVE_STATUSES),
        "sources": len(sources),
        "paused": sum(1 for entry in sources if entry.paused),
        "destinations": len(catalog.destination_entries()),
        "days": list(zip(figures.days, figures.delivered, figures.failed, strict=True)),
        "delivered": sum(figures.delivered),
        "failures": sorted(figures.failures.items(), key=lambda item: (-item[1], item[0])),
        "per_source": figures.sources,
        "per_destination": figures.destinations,
    }
    return render(request, "overview.html", values, viewer)
