"""What every route is given: the runtime it reads and steers, the token it checks, the browser
sessions and the failed-login limit. One typed object on the app, handed to routes as a
dependency, instead of module globals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from fastapi import Request
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from tikrelay.runtime.app import Runtime
from tikrelay.web.sessions import LoginLimiter, Sessions


@dataclass(frozen=True)
class WebContext:
    runtime: Runtime
    token: SecretStr | None  # None: web.auth is none
    metrics: CollectorRegistry  # this app's own, read from the database at scrape time
    sessions: Sessions  # browsers logged in through the login page
    logins: LoginLimiter  # failed logins per client address


def web_context(request: Request) -> WebContext:
    return cast(WebContext, request.app.state.web)
