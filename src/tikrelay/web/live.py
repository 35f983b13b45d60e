"""Server-Sent Events, live: ``GET /api/jobs/{id}/events``, a job's timeline, for its page; and
``GET /api/jobs/events``, the jobs that change, for the jobs list.

A job's stream
--------------

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

The jobs list's stream
----------------------

``GET /api/jobs/events?status=&kind=&after=`` reads, every ``POLL_SECONDS``, the timeline rows
above the last one read (``after``: where the page's rows stand, or the browser's
``Last-Event-ID``; without either, from now on) and the jobs they belong to
(``store.web_sql.job_changes``): every move of a job writes such a row, so no job is read
unless it changed. It sends

- ``event: job`` with the job as the list shows it (id, kind, status, attempts, error, last
  change) when a job of the list's ``kind`` in its ``status`` (any, without one) was created or
  changed what the list shows; the list adds or updates its row;
- ``event: leave`` (``{"id", "status"}``) when a job moved out of the list's ``status``; the list
  drops its row.

The last message of each look carries ``id:``, the last timeline row read, for a reconnect. On
PostgreSQL a transaction may commit after another that took a later id: an id missing below
the newest one read is asked for again for ``GAP_SECONDS``. The stream never ends by itself:
it ends when the client goes away or the server stops. A look that finds nothing costs one
indexed read of the timeline.

Both streams are outside the OpenAPI document: a stream that may never end cannot be tried by a
schema fuzzer, and OpenAPI has no shape for it. They need the token or the session cookie, as
every API route.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine

from tikrelay.domain.jobs import FINAL_STATUSES, Job, JobEvent, JobEventRecord, JobStatus
from tikrelay.store.queue import JobQueue
from tikrelay.store.web_sql import JobChanges, ListedJob, events_after, job_changes
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
    # The job first: a move writes its events in its own transaction, so once the job is read
    # final, the events read after it are all of them. (Read the other way round, a move that
    # commits between the two reads shows a final job whose last events were never sent.)
    job = queue.get(job_id)
    return events_after(engine, job_id, after), job


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
    return _streamed(job_stream(queue, job_id, _resumed(after, last_event_id), context.stopping))


def _resumed(after: int, last_event_id: str | None) -> int:
    """Where a stream starts: ``after``, or further where a reconnecting browser left off."""
    if last_event_id is None:
        return after
    if not (last_event_id.isascii() and last_event_id.isdigit()) or (
        int(last_event_id) > MAX_JOB_ID
    ):
        raise HTTPException(
            HTTPStatus.UNPROCESSABLE_ENTITY, detail="Last-Event-ID: not an event id"
        )
    return max(after, int(last_event_id))


def _streamed(messages: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        messages,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# -- the jobs list ------------------------------------------------------------------------------

#: A timeline id missing below the newest one read is asked for again this long (seconds).
GAP_SECONDS = 10.0
#: At most this many missing ids are asked for again: a wider jump is rows deleted, not a race.
MAX_GAPS = 200
#: Timeline rows read at most per look; a burst of more is read in pages, one after the other.
LOOK_LIMIT = 500
#: The rows sent last are remembered for this many jobs, so that a job is sent again only when
#: what the list shows of it changed (most timeline rows are stages of a running job).
REMEMBERED = 2000


def list_row(job: ListedJob) -> dict[str, Any]:
    """A job as the jobs list shows it."""
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "updated_at": job.updated_at.isoformat(),
        "error_kind": job.error_kind,
        "error_message": job.error_message,
    }


class ListWatch:
    """What one jobs list's stream knows between looks: the last timeline row read, the ids
    missing below it, and the rows it sent."""

    def __init__(self, status: JobStatus | None, after: int) -> None:
        self.status = status.value if status is not None else None
        self.last = after
        self.gaps: dict[int, float] = {}  # a missing timeline id, and until when to ask again
        self.sent: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def again(self, now: float) -> list[int]:
        """The missing ids still worth asking for."""
        self.gaps = {gap: until for gap, until in self.gaps.items() if until > now}
        return sorted(self.gaps)

    def look(self, changes: JobChanges, now: float) -> list[str]:
        """The messages of one look's changes (module docstring)."""
        read = {event.id for event in changes.events}
        for came in read & self.gaps.keys():
            del self.gaps[came]
        missing = changes.last - self.last - len({i for i in read if i > self.last})
        if 0 < missing <= MAX_GAPS:
            for gap in range(self.last + 1, changes.last):
                if gap not in read:
                    self.gaps[gap] = now + GAP_SECONDS
        self.last = changes.last
        moved_from: dict[int, set[str]] = {}
        for event in changes.events:
            if event.type == JobEvent.STATUS_CHANGED:
                moved_from.setdefault(event.job_id, set()).add(str(event.data.get("from")))
        found = []
        for job_id in sorted({event.job_id for event in changes.events}):
            job = changes.jobs.get(job_id)
            if job is None:
                continue  # of another kind, or deleted since
            listed = job_id in self.sent or self.status in moved_from.get(job_id, ())
            found.extend(self._changed(job, listed))
        if found:
            found[-1] = f"id: {self.last}\n{found[-1]}"
        return found

    def _changed(self, job: ListedJob, listed: bool) -> list[str]:
        """``listed``: the job may be on the list (sent, or moved out of its status)."""
        if self.status is None or job.status == self.status:
            row = list_row(job)
            if self.sent.get(job.id) == row:
                return []
            self.sent[job.id] = row
            self.sent.move_to_end(job.id)
            if len(self.sent) > REMEMBERED:
                self.sent.popitem(last=False)
            return [message("job", row)]
        self.sent.pop(job.id, None)
        return [message("leave", {"id": job.id, "status": job.status})] if listed else []


async def jobs_stream(
    engine: Engine,
    status: JobStatus | None,
    kind: str | None,
    after: int | None,
    stopping: asyncio.Event,
) -> AsyncIterator[str]:
    """The messages of a jobs list's stream (module docstring), until ``stopping`` is set."""
    yield f"retry: {RETRY_MS}\n\n"
    if after is None:
        after = (await asyncio.to_thread(job_changes, engine, None)).last
    watch, quiet = ListWatch(status, after), 0.0
    while True:
        again = watch.again(time.monotonic())
        changes = await asyncio.to_thread(
            job_changes, engine, watch.last, again=again, kind=kind, limit=LOOK_LIMIT
        )
        for line in watch.look(changes, time.monotonic()):
            quiet = 0.0
            yield line
        if len(changes.events) >= LOOK_LIMIT and not stopping.is_set():
            continue  # a burst comes in pages: the next one at once
        quiet += POLL_SECONDS
        if quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ": still here\n\n"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), POLL_SECONDS)
        if stopping.is_set():
            return


@router.get("/api/jobs/events")
async def jobs_events(
    context: Context,
    status: Annotated[JobStatus | None, Query()] = None,
    kind: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_JOB_ID)] = None,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """The jobs of ``status`` and ``kind`` that change after timeline row ``after``, live
    (module docstring). The app includes this router before ``web.jobs``, whose
    ``GET /api/jobs/{job_id}`` would take the path otherwise (and refuse ``events``)."""
    start = _resumed(after or 0, last_event_id) if last_event_id is not None else after
    engine = context.runtime.queue.engine
    return _streamed(jobs_stream(engine, status, kind, start, context.stopping))
