"""What every dashboard page shares: the templates, the headers (a Content-Security-Policy that
allows only tikrelay's own files), who is looking, and the CSRF check of the pages' forms.

A page is for a logged-in browser (its session cookie), a client with the token, or anyone
under ``web.auth: none``; anyone else is sent to ``/login``. Each form carries a CSRF value in
a hidden ``csrf`` field, checked before the form does anything: the session's own token for a
logged-in browser, else one random value of this process (a page on another site cannot read
it, so it cannot post the form, even under ``web.auth: none``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.templating import Jinja2Templates

from tikrelay.web.auth import SESSION_COOKIE, bearer_ok, bearer_scheme
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.sessions import same_token

HERE = FilePath(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
#: The pages of the navigation bar: (path, label).
NAVIGATION = (
    ("/", "Overview"),
    ("/sources", "Sources"),
    ("/destinations", "Destinations"),
    ("/posts", "Posts"),
    ("/jobs", "Jobs"),
    ("/settings", "Settings"),
    ("/logs", "Logs"),
)


class LoginNeededError(Exception):
    """A page was asked for without a session or the token: the answer is the login page."""


class FormRefusedError(Exception):
    """A form came without this page's CSRF value (a stale page, or another site)."""


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page: the CSRF value its forms carry, and whether a session (which has a
    *Log out* button) is behind it."""

    csrf: str
    logged_in: bool


def find_viewer(
    request: Request, context: WebContext, credentials: HTTPAuthorizationCredentials | None
) -> Viewer | None:
    session = context.sessions.find(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        return Viewer(session.csrf, logged_in=True)
    if context.token is None or (credentials is not None and bearer_ok(context, credentials)):
        return Viewer(context.form_csrf, logged_in=False)
    return None


def page_viewer(
    request: Request,
    context: Annotated[WebContext, Depends(web_context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Viewer:
    found = find_viewer(request, context, credentials)
    if found is None:
        raise LoginNeededError
    return found


def form_viewer(
    viewer: Annotated[Viewer, Depends(page_viewer)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Viewer:
    """The viewer of a form's page, once its CSRF value matched."""
    if not same_token(csrf, viewer.csrf):
        raise FormRefusedError
    return viewer


PageViewer = Annotated[Viewer, Depends(page_viewer)]
FormViewer = Annotated[Viewer, Depends(form_viewer)]
Context = Annotated[WebContext, Depends(web_context)]


def render(
    request: Request,
    name: str,
    values: dict[str, Any],
    viewer: Viewer | None = None,
    status: int = HTTPStatus.OK,
) -> Response:
    shown = {
        "viewer": viewer,
        "csrf": viewer.csrf if viewer is not None else None,
        "navigation": NAVIGATION if viewer is not None else (),
        "here": request.url.path,
        **values,
    }
    return templates.TemplateResponse(
        request, name, shown, status_code=status, headers=PAGE_HEADERS
    )


def go(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=HTTPStatus.SEE_OTHER, headers=PAGE_HEADERS)


async def login_needed(request: Request, exc: Exception) -> Response:
    del request, exc
    return go("/login")


async def form_refused(request: Request, exc: Exception) -> Response:
    del exc
    return render(request, "refused.html", {}, status=HTTPStatus.FORBIDDEN)


# -- what the templates use to show values ----------------------------------------------------


def shown_time(moment: datetime | None) -> str:
    """A moment in UTC to the second, as every page shows it."""
    if moment is None:
        return "—"
    zoned = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return zoned.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    zoned = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return zoned.astimezone(UTC).isoformat()


def shown_details(data: Any) -> str:
    """An event's data as ``key=value`` pairs (the job page's script shows them the same way)."""
    if not isinstance(data, dict) or not data:
        return ""
    pairs = []
    for key, value in data.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        pairs.append(f"{key}={text}")
    return ", ".join(pairs)


def path_part(value: str) -> str:
    """``value`` as one segment of a path (``tiktok:@bob`` stays readable, ``/`` is escaped)."""
    return quote(value, safe=":@")


templates.env.filters["when"] = shown_time
templates.env.filters["iso"] = iso_time
templates.env.filters["details"] = shown_details
templates.env.filters["part"] = path_part
