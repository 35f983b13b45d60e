"""The ASGI app: routes that parse, call the runtime's queue and the shared reads, and answer.
One app per runtime; ``web.server`` serves it."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from tikrelay import __version__
from tikrelay.runtime.app import Runtime
from tikrelay.web import (
    admin_api,
    admin_pages,
    assets,
    catalog,
    destination_pages,
    docs,
    health,
    job_pages,
    jobs,
    link_requests,
    live,
    metrics,
    pages,
    post_pages,
    posts,
    source_pages,
    thumbnails,
)
from tikrelay.web.context import WebContext
from tikrelay.web.logbook import BOOK, install
from tikrelay.web.sessions import Clock, LoginLimiter, Sessions
from tikrelay.web.views import FormRefusedError, LoginNeededError, form_refused, login_needed

log = structlog.get_logger("tikrelay.web")

DESCRIPTION = (
    "The REST API of tikrelay: jobs and their timelines, sources and destinations, posts, "
    "deliveries, statistics, the settings in force and the recent log lines, and links to "
    "deliver. Every route but /healthz and /readyz needs "
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
        form_csrf=secrets.token_urlsafe(32),
        stopping=asyncio.Event(),
        logbook=BOOK,
    )
    install(BOOK)
    routers = (
        health.router,
        pages.router,
        source_pages.router,
        destination_pages.router,
        post_pages.router,
        job_pages.router,
        admin_pages.router,
        thumbnails.router,
        live.router,
        jobs.router,
        catalog.router,
        posts.router,
        link_requests.router,
        admin_api.router,
        metrics.router,
        docs.router,
        assets.router,  # after docs: its /assets/{name:path} would take Swagger UI's files
    )
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(LoginNeededError, login_needed)
    app.add_exception_handler(FormRefusedError, form_refused)
    return app


class _AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: a text that is not valid Unicode (a lone
    surrogate, ``"\\ud800"`` in the request's JSON) goes back as the escape it came as."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 (each error names its field in ``loc``), written so that an input echoed
    back can never fail to encode."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return _AsciiJSONResponse(
        {"detail": jsonable_encoder(errors)},
        status_code=HTTPStatus.UNPROCESSABLE_ENTITY,
    )


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    # The driver's text may name the server; the log keeps it, the answer does not.
    log.warning("web_database_error", path=request.url.path, error=type(exc).__name__)
    return JSONResponse(
        {"detail": "the database did not answer: check database_url (tikrelay doctor)"},
        status_code=HTTPStatus.SERVICE_UNAVAILABLE,
    )
