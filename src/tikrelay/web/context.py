"""What every route is given: the runtime it reads and steers, the token it checks, the browser
sessions and the failed-login limit, the stop signal of live streams and the recent log lines.
One typed object on the app, handed to routes as a dependency, instead of module globals."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import cast

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from tikrelay.runtime.app import Runtime
from tikrelay.web.logbook import LogBook
from tikrelay.web.sessions import LoginLimiter, Sessions


@dataclass(frozen=True)
class WebContext:
    runtime: Runtime
    token: SecretStr | None  # None: web.auth is none
    metrics: CollectorRegistry  # this app's own, read from the database at scrape time
    sessions: Sessions  # browsers logged in through the login page
    logins: LoginLimiter  # failed logins per client address
    form_csrf: str  # the forms' CSRF value when no session is behind a page (web.views)
    stopping: asyncio.Event  # set when the server stops: live streams end (web.live)
    logbook: LogBook  # the recent log lines of this process (web.logbook)


def web_context(request: Request) -> WebContext:
    return web_context_of(request.app)


def web_context_of(app: FastAPI) -> WebContext:
    return cast(WebContext, app.state.web)
