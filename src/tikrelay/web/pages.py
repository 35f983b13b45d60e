"""The pages a browser sees: the login form, logging out, and the overview at ``/``.

Logging in trades the web token for a session cookie (``web.sessions``). The login form has a
CSRF token of its own before any session exists: a random value both in a hidden field and in a
short-lived cookie only ``/login`` receives, which must match (a page on another site can post
the form but can neither read nor set that cookie). After login, each form carries the session's
CSRF token. Failed logins are limited per client address (429 with Retry-After).

The token is read from the form and compared; it is never put in a page, a cookie or a log line.
Pages are server-rendered by Jinja2 (autoescaped), load only tikrelay's own style sheet and send
a Content-Security-Policy that allows nothing else.
"""

from __future__ import annotations

import secrets
from http import HTTPStatus
from pathlib import Path as FilePath
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.templating import Jinja2Templates

from tikrelay.domain.jobs import JobStatus
from tikrelay.web.auth import CSRF_HEADER, SESSION_COOKIE, bearer_ok, bearer_scheme
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.sessions import SESSION_SECONDS, Session, same_token

log = structlog.get_logger("tikrelay.web")

HERE = FilePath(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
LOGIN_COOKIE = "tikrelay_login"
#: The login form's own CSRF value lasts this long: a form left open longer is reloaded.
LOGIN_FORM_SECONDS = 3600
#: The longest token the form takes (the real one is at least 16 characters).
MAX_TOKEN_FIELD = 1024
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)
Context = Annotated[WebContext, Depends(web_context)]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _secure(request: Request) -> bool:
    """The request came over https (directly, or through a proxy uvicorn trusts)."""
    return request.url.scheme == "https"


def _page(
    request: Request, name: str, values: dict[str, Any], status: int = HTTPStatus.OK
) -> Response:
    return templates.TemplateResponse(
        request, name, values, status_code=status, headers=PAGE_HEADERS
    )


def _go(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=HTTPStatus.SEE_OTHER, headers=PAGE_HEADERS)


def _session(request: Request, context: WebContext) -> tuple[str | None, Session | None]:
    session_id = request.cookies.get(SESSION_COOKIE)
    return session_id, context.sessions.find(session_id)


def _login_page(
    request: Request, message: str | None = None, status: int = HTTPStatus.OK
) -> Response:
    """The form, with a fresh CSRF value in its hidden field and in the login cookie."""
    nonce = secrets.token_urlsafe(32)
    page = _page(request, "login.html", {"login_csrf": nonce, "message": message}, status)
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
        return _go("/")
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
        return _go("/")
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
    answer = _go("/")
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
    answer = _go("/login")
    answer.delete_cookie(
        SESSION_COOKIE, path="/", secure=_secure(request), httponly=True, samesite="strict"
    )
    return answer


@router.get("/")
def overview(request: Request, context: Context, credentials: Bearer) -> Response:
    """The overview for a logged-in browser (or a client with the token); the login page for
    anyone else."""
    session = _session(request, context)[1]
    allowed = context.token is None or session is not None
    if not allowed and (credentials is None or not bearer_ok(context, credentials)):
        return _go("/login")
    runtime = context.runtime
    counts = runtime.queue.counts()
    catalog = runtime.catalog()
    sources = catalog.source_entries()
    values = {
        "csrf": session.csrf if session is not None else None,
        "jobs": [(status.value, counts.get(status, 0)) for status in JobStatus],
        "sources": len(sources),
        "paused": sum(1 for entry in sources if entry.paused),
        "destinations": len(catalog.destination_entries()),
    }
    return _page(request, "overview.html", values)


@router.get("/assets/site.css")
def style_sheet() -> FileResponse:
    """Open to all: the login page needs it before anyone is logged in."""
    return FileResponse(HERE / "static" / "site.css", media_type="text/css; charset=utf-8")
