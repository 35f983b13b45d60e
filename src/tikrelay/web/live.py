"""``GET /api/jobs/{id}/events``: a job's timeline as Server-Sent Events, live.

The stream reads the ``job_events`` table, whichever process wrote the events (a worker of this
``serve``, of another machine): every ``POLL_SECONDS`` it asks for the job's events with ids
above the last one sent (``?after=`` or the browser's ``Last-Event-ID`` on a reconnect, so
nothing is sent twice nor missed) and for the job's row. It sends

- ``event: timeline`` with ``id:`` the event's id and ``data:`` the event as JSON
  (``{"id", "type", "at", "data"}``, as in ``GET /api/jobs/{id}``);
- ``event: job`` with the job's status, attempts, error and times, at the start and whenever
  they change;
- ``event: end`` once the job is final (COMPLETED, FAILED, CANCELLED) and every event is sent,
  or when the job is deleted; then the stream closes (a retried job is a new job).

A stream ends too when the client goes away (Starlette cancels it on the disconnect) and when
the server stops (``WebContext.stopping``): uvicorn's graceful shutdown waits for open
responses, and an endless stream would otherwise hold it for its whole grace time. Each stream
costs two small indexed reads a second, in a thread, while its client watches.

Outside the OpenAPI document: a stream that may never end cannot be tried by a schema fuzzer,
and OpenAPI has no shape for it. It needs the token or the session cookie, as every API route.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine

from tikrelay.domain.jobs import FINAL_STATUSES, Job, JobEventRecord
from tikrelay.store.queue import JobQueue
from tikrelay.store.web_sql import events_after
from tikrelay.web.auth import require_auth
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.jobs import GONE, MAX_JOB_ID

#: How often a stream looks for new events.
POLL_SECONDS = 1.0
#: A comment line this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15.0
#: The browser waits this long before it reconnects a broken stream (milliseconds).
RETRY_MS = 2000

router = APIRouter(dependencies=[Depends(require_auth)], include_in_schema=False)
Context = Annotated[WebContext, Depends(web_context)]


def message(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    """One Server-Sent Event; the data is one line of JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def timeline_data(event: JobEventRecord) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "at": event.at.isoformat(), "data": event.data}


def job_data(job: Job) -> dict[str, Any]:
    def moment(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": job.id,
        "status": job.status.value,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_at": moment(job.run_at),
        "started_at": moment(job.started_at),
        "finished_at": moment(job.finished_at),
        "cancel_requested": job.cancel_requested,
        "error_kind": job.error_kind,
        "error_message": job.error_message,
    }


def _read(
    queue: JobQueue, engine: Engine, job_id: int, after: int
) -> tuple[list[JobEventRecord], Job | None]:
    # The events first: a final status read after them has all its events written before it.
    events = events_after(engine, job_id, after)
    return events, queue.get(job_id)


async def job_stream(
    queue: JobQueue, job_id: int, after: int, stopping: asyncio.Event
) -> AsyncIterator[str]:
    """The messages of one job's stream (module docstring), until the job is final, is
    deleted, or ``stopping`` is set."""
    yield f"retry: {RETRY_MS}\n\n"
    last, shown, quiet = after, None, 0.0
    while True:
        events, job = await asyncio.to_thread(_read, queue, queue.engine, job_id, last)
        for event in events:
            last = event.id
            yield message("timeline", timeline_data(event), event.id)
        if job is None:
            yield message("end", {"status": None, "reason": "the job was deleted"})
            return
        state = job_data(job)
        if state != shown:
            shown = state
            yield message("job", state)
        if job.status in FINAL_STATUSES and not events:
            yield message("end", {"status": job.status.value})
            return
        if events:
            continue  # a long timeline comes in pages: the next one at once
        quiet += POLL_SECONDS
        if quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ": still here\n\n"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), POLL_SECONDS)
        if stopping.is_set():
            return


@router.get("/api/jobs/{job_id}/events")
async def job_events(
    context: Context,
    job_id: Annotated[int, Path(ge=1, le=MAX_JOB_ID)],
    after: Annotated[int, Query(ge=0, le=MAX_JOB_ID)] = 0,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """The job's timeline from the event after ``after``, live (module docstring)."""
    queue = context.runtime.queue
    job = await asyncio.to_thread(queue.get, job_id)
    if job is None:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=f"job {job_id} does not exist ({GONE})")
    if last_event_id is not None:
        if not last_event_id.isdigit():
            raise HTTPException(
                HTTPStatus.UNPROCESSABLE_ENTITY, detail="Last-Event-ID: not an event id"
            )
        after = max(after, int(last_event_id))
    return StreamingResponse(
        job_stream(queue, job_id, after, context.stopping),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
