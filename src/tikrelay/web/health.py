"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work: the database answers,
its schema is the one this tikrelay writes, and some worker, in this process or another, has
sent a heartbeat within one lease). Neither needs the token: load balancers and orchestrators
ask them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from tikrelay.store.migrate import HEAD, current_revision
from tikrelay.store.reports import live_workers
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.models import Health, Readiness

#: A database that has not answered by then is as good as down for a probe.
READY_TIMEOUT = 5.0

router = APIRouter(tags=["health"])
Context = Annotated[WebContext, Depends(web_context)]


@router.get("/healthz")
async def healthz() -> Health:
    """The process is up and answers."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready; reason says why."}},
)
async def readyz(context: Context) -> JSONResponse:
    """Database reachable, migrations current, workers alive; 503 with the reason otherwise."""
    try:
        found = await asyncio.wait_for(asyncio.to_thread(readiness, context), READY_TIMEOUT)
    except TimeoutError:
        found = _not_ready(
            {"database": f"no answer within {READY_TIMEOUT:g} s"},
            f"the database did not answer within {READY_TIMEOUT:g} s: check database_url",
        )
    code = HTTPStatus.OK if found.ready else HTTPStatus.SERVICE_UNAVAILABLE
    return JSONResponse(found.model_dump(), status_code=code)


def readiness(context: WebContext) -> Readiness:
    runtime = context.runtime
    engine = runtime.queue.engine
    checks: dict[str, str] = {}
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        checks["database"] = type(exc).__name__
        return _not_ready(checks, "the database does not answer: check database_url")
    checks["database"] = "ok"
    if revision != HEAD:
        checks["migrations"] = f"at {revision}, {HEAD} needed"
        return _not_ready(
            checks, f"the schema is at {revision}, not {HEAD}: run tikrelay db upgrade"
        )
    checks["migrations"] = "ok"
    lease = runtime.settings.jobs.lease_seconds
    since = runtime.queue.clock() - timedelta(seconds=lease)
    try:
        alive = live_workers(engine, since)
    except SQLAlchemyError as exc:
        checks["workers"] = type(exc).__name__
        return _not_ready(checks, "the workers table cannot be read: check database_url")
    checks["workers"] = f"{alive} alive"
    if not alive:
        return _not_ready(
            checks,
            f"no worker has sent a heartbeat in the last {lease:g} s: run tikrelay serve or "
            "tikrelay worker",
        )
    return Readiness(ready=True, reason=None, checks=checks)


def _not_ready(checks: dict[str, str], reason: str) -> Readiness:
    return Readiness(ready=False, reason=reason, checks=checks)
