"""Who may use the web app: whoever sends the token from ``TIKRELAY_WEB_TOKEN`` as
``Authorization: Bearer <token>``, or a browser logged in through the login page, whose session
cookie counts only with the session's CSRF token in ``X-CSRF-Token`` for any request that may
change something. ``require_auth`` is the one dependency every protected route has.

The token is never a settings key (it can be in no config file), never logged and never shown:
errors give its length at most.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from http import HTTPStatus
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from tikrelay.config.settings import WEB_TOKEN_ENV, WebSettings
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.sessions import Session, same_token

SESSION_COOKIE = "tikrelay_session"
CSRF_HEADER = "X-CSRF-Token"
#: Methods that change nothing: the session cookie alone is enough for them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Shorter tokens are refused: a guessable token on a reachable port is no lock.
MIN_TOKEN_LENGTH = 16
FIX = "for example export TIKRELAY_WEB_TOKEN=$(openssl rand -hex 32)"


class WebSetupError(ValueError):
    """The web app cannot start as configured; the message names the key or variable and the fix."""


def web_token(settings: WebSettings, environ: Mapping[str, str]) -> SecretStr | None:
    """The token every protected route asks for; None with ``web.auth: none`` (which the
    settings allow only on a loopback address)."""
    if settings.auth == "none":
        return None
    raw = environ.get(WEB_TOKEN_ENV, "").strip()
    if not raw:
        raise WebSetupError(
            f"no web token: set {WEB_TOKEN_ENV} in the environment ({FIX}); only with web.listen "
            "on a loopback address may web.auth: none turn the token off"
        )
    if len(raw) < MIN_TOKEN_LENGTH:
        raise WebSetupError(
            f"{WEB_TOKEN_ENV} has {len(raw)} characters: use at least {MIN_TOKEN_LENGTH} ({FIX})"
        )
    if not all(33 <= ord(char) < 127 for char in raw):
        raise WebSetupError(
            f"{WEB_TOKEN_ENV} must be printable ASCII without spaces, as it travels in an HTTP "
            f"header ({FIX})"
        )
    return SecretStr(raw)


bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description=f"The value of {WEB_TOKEN_ENV}, as `Authorization: Bearer <token>`.",
)


_session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description=(
        "The cookie the login page sets. A request that may change something (POST, PATCH, "
        f"DELETE) must also send the session's CSRF token as {CSRF_HEADER}."
    ),
)


def _refused(reason: str) -> HTTPException:
    return HTTPException(
        HTTPStatus.UNAUTHORIZED, detail=reason, headers={"WWW-Authenticate": "Bearer"}
    )


def _forbidden(reason: str) -> HTTPException:
    return HTTPException(HTTPStatus.FORBIDDEN, detail=reason)


def bearer_ok(context: WebContext, credentials: HTTPAuthorizationCredentials | None) -> bool:
    """The request carries the right token (always so with ``web.auth: none``)."""
    expected = context.token
    if expected is None:
        return True
    if credentials is None:
        return False
    given = credentials.credentials.encode("utf-8")
    return secrets.compare_digest(given, expected.get_secret_value().encode("utf-8"))


async def require_auth(
    request: Request,
    context: Annotated[WebContext, Depends(web_context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    session_id: Annotated[str | None, Depends(_session_cookie)],
) -> None:
    """Let the request through with the right bearer token (or with ``web.auth: none``), or
    with a live session cookie, plus the session's CSRF token unless the method is safe. A
    bearer token, when sent, decides alone: a wrong one is refused whatever the cookie. With
    ``web.auth: none`` a change asked by a page of another site is refused: on a loopback
    address, any site the user visits could otherwise make their browser post to it."""
    if context.token is None:
        if request.method not in SAFE_METHODS and cross_site(request):
            raise _forbidden(
                "a change asked from another site's page is refused (web.auth: none lets in "
                "this machine's own clients, not other sites through its browser)"
            )
        return
    if credentials is not None:
        if not bearer_ok(context, credentials):
            raise _refused(f"wrong token: send the value of {WEB_TOKEN_ENV}")
        return
    session = context.sessions.find(session_id)
    if session is None:
        raise _refused(
            f"send the token of {WEB_TOKEN_ENV} as Authorization: Bearer <token>, or log in "
            "at /login"
        )
    if request.method not in SAFE_METHODS and not csrf_ok(request, session):
        raise _forbidden(
            f"a request with the session cookie must send the session's CSRF token as "
            f"{CSRF_HEADER} (the dashboard's pages carry it)"
        )


def cross_site(request: Request) -> bool:
    """The browser says the request comes from a page of another site: ``Sec-Fetch-Site``
    (every current browser sends it), else an ``Origin`` whose host is not this one. A client
    that sends neither (curl, scripts) is not a browser page."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    host = request.headers.get("host", "")
    return origin == "null" or urlsplit(origin).netloc.lower() != host.lower()


def csrf_ok(request: Request, session: Session) -> bool:
    return same_token(request.headers.get(CSRF_HEADER), session.csrf)
