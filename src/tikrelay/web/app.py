"""The ASGI app: routes that parse, call the runtime's queue and the shared reads, and answer.
One app per runtime; ``web.server`` serves it."""

from __future__ import annotations

import time
from http import HTTPStatus

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from tikrelay import __version__
from tikrelay.runtime.app import Runtime
from tikrelay.web import catalog, docs, health, jobs, link_requests, metrics, pages, posts
from tikrelay.web.context import WebContext
from tikrelay.web.sessions import Clock, LoginLimiter, Sessions

log = structlog.get_logger("tikrelay.web")

DESCRIPTION = (
    "The REST API of tikrelay: jobs and their timelines, sources and destinations, posts, "
    "deliveries, statistics, and links to deliver. Every route but /healthz and /readyz needs "
    "`Authorization: Bearer <TIKRELAY_WEB_TOKEN>`, or the session cookie of the login page "
    "with its CSRF token in `X-CSRF-Token` for POST, PATCH and DELETE."
)


def create_app(
    runtime: Runtime, token: SecretStr | None, *, clock: Clock = time.monotonic
) -> FastAPI:
    """The app over ``runtime``'s database; ``token`` None means ``web.auth: none``;
    ``clock`` times sessions and the failed-login limit."""
    app = FastAPI(
        title="tikrelay",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by web.docs, behind the token and with local assets
        redoc_url=None,
        openapi_url=None,
    )
    app.state.web = WebContext(
        runtime,
        token,
        metrics.metrics_registry(runtime.queue.engine),
        Sessions(clock),
        LoginLimiter(clock),
    )
    routers = (
        health.router,
        pages.router,
        jobs.router,
        catalog.router,
        posts.router,
        link_requests.router,
        metrics.router,
        docs.router,
    )
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(OperationalError, _database_down)
    return app


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    # The driver's text may name the server; the log keeps it, the answer does not.
    log.warning("web_database_error", path=request.url.path, error=type(exc).__name__)
    return JSONResponse(
        {"detail": "the database did not answer: check database_url (tikrelay doctor)"},
        status_code=HTTPStatus.SERVICE_UNAVAILABLE,
    )
