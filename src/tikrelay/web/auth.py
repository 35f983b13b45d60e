"""Who may use the web app: whoever sends the token from ``TIKRELAY_WEB_TOKEN`` as
``Authorization: Bearer <token>``. ``require_auth`` is the one dependency every protected route
has, so that the login page's session cookie can become a second way in at one place.

The token is never a settings key (it can be in no config file), never logged and never shown:
errors give its length at most.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from http import HTTPStatus
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from tikrelay.config.settings import WEB_TOKEN_ENV, WebSettings
from tikrelay.web.context import WebContext, web_context

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


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description=f"The value of {WEB_TOKEN_ENV}, as `Authorization: Bearer <token>`.",
)


def _refused(reason: str) -> HTTPException:
    return HTTPException(
        HTTPStatus.UNAUTHORIZED, detail=reason, headers={"WWW-Authenticate": "Bearer"}
    )


async def require_auth(
    context: Annotated[WebContext, Depends(web_context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through with the right bearer token (or with ``web.auth: none``)."""
    expected = context.token
    if expected is None:
        return
    if credentials is None:
        raise _refused(f"send the token of {WEB_TOKEN_ENV} as Authorization: Bearer <token>")
    given = credentials.credentials.encode("utf-8")
    if not secrets.compare_digest(given, expected.get_secret_value().encode("utf-8")):
        raise _refused(f"wrong token: send the value of {WEB_TOKEN_ENV}")
