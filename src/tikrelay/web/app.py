"""The ASGI app: routes that parse, call the runtime's queue and the shared reads, and answer.
One app per runtime; ``web.server`` serves it."""

from __future__ import annotations

from http import HTTPStatus

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from tikrelay import __version__
from tikrelay.runtime.app import Runtime
from tikrelay.web import docs, health, jobs, metrics
from tikrelay.web.context import WebContext

log = structlog.get_logger("tikrelay.web")

DESCRIPTION = (
    "The REST API of tikrelay: jobs, their timelines, retry and cancel. Every route but "
    "/healthz and /readyz needs `Authorization: Bearer <TIKRELAY_WEB_TOKEN>`."
)


def create_app(runtime: Runtime, token: SecretStr | None) -> FastAPI:
    """The app over ``runtime``'s database; ``token`` None means ``web.auth: none``."""
    app = FastAPI(
        title="tikrelay",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by web.docs, behind the token and with local assets
        redoc_url=None,
        openapi_url=None,
    )
    app.state.web = WebContext(runtime, token, metrics.metrics_registry(runtime.queue.engine))
    for router in (health.router, jobs.router, metrics.router, docs.router):
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
