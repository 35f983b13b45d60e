"""``GET /api/jobs/{id}/events``: a job's timeline as Server-Sent Events. In-process for a job
that is over (the stream ends by itself); over a real server for a job that moves while a
client watches, and for a server stopped while a stream is open: its graceful shutdown does
not wait for the stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
from pydantic import SecretStr

from tests.support.web import AUTH, TOKEN
from tikrelay.runtime.app import Runtime
from tikrelay.web.server import SHUTDOWN_GRACE_SECONDS, WebListener, bind, serve_until


def messages(text: str) -> list[tuple[str, dict[str, object]]]:
    """(event, data) of each message of a stream's text."""
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


def cancelled_job(runtime: Runtime) -> int:
    job_id = runtime.service.enqueue("greet", {"name": "Ann"}).job.id
    runtime.queue.cancel(job_id)
    return job_id


async def test_a_finished_job_streams_its_timeline_then_ends(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    job_id = cancelled_job(runtime)
    answer = await client.get(f"/api/jobs/{job_id}/events")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.text.startswith("retry: 2000\n\n")
    found = messages(answer.text)
    events = runtime.queue.events(job_id)
    assert [data["id"] for name, data in found if name == "timeline"] == [e.id for e in events]
    assert [name for name, _ in found][-2:] == ["job", "end"]
    assert found[-2][1]["status"] == found[-1][1]["status"] == "CANCELLED"
    assert f"id: {events[-1].id}\nevent: timeline" in answer.text

    # Where the browser's reconnect (Last-Event-ID) or the page (?after=) left off.
    later = await client.get(
        f"/api/jobs/{job_id}/events", headers={"Last-Event-ID": str(events[0].id)}
    )
    assert [d["id"] for n, d in messages(later.text) if n == "timeline"] == [
        e.id for e in events[1:]
    ]
    after = await client.get(f"/api/jobs/{job_id}/events?after={events[-1].id}")
    assert [n for n, _ in messages(after.text)] == ["job", "end"]


async def test_unknown_jobs_and_bad_positions_are_refused(
    client: httpx.AsyncClient, stranger: httpx.AsyncClient, runtime: Runtime
) -> None:
    job_id = cancelled_job(runtime)
    assert (await client.get("/api/jobs/999999/events")).status_code == 404
    assert (await client.get(f"/api/jobs/{job_id}/events?after=-1")).status_code == 422
    bad = await client.get(f"/api/jobs/{job_id}/events", headers={"Last-Event-ID": "x"})
    assert bad.status_code == 422
    assert "Last-Event-ID" in bad.text
    assert (await stranger.get(f"/api/jobs/{job_id}/events")).status_code == 401


async def _lines(answer: httpx.Response) -> AsyncIterator[tuple[str, dict[str, object]]]:
    event = None
    async for line in answer.aiter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event is not None:
            yield event, json.loads(line.removeprefix("data: "))
            event = None


async def test_a_watched_job_moves_live_and_the_server_stops_with_a_stream_open(
    runtime: Runtime,
) -> None:
    listener = WebListener(bind("127.0.0.1:0"), SecretStr(TOKEN))
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_until(runtime, listener, stop))
    watched = runtime.service.enqueue("greet", {"name": "Ann"}).job.id
    waiting = runtime.service.enqueue("greet", {"name": "Bo"}).job.id
    async with httpx.AsyncClient(base_url=listener.url, timeout=30, headers=AUTH) as web:
        async with web.stream("GET", f"/api/jobs/{watched}/events") as answer:
            seen = _lines(answer)
            assert await anext(seen) == ("timeline", await anext_data(runtime, watched, 0))
            name, state = await anext(seen)
            assert (name, state["status"]) == ("job", "QUEUED")
            await asyncio.to_thread(runtime.queue.cancel, watched)  # another writer, meanwhile
            rest = [message async for message in seen]  # until the stream ends by itself
        changes = [d["data"] for n, d in rest if n == "timeline" and d["type"] == "STATUS_CHANGED"]
        assert changes == [{"from": "QUEUED", "to": "CANCELLED"}]
        assert [d["id"] for n, d in rest if n == "timeline"] == [
            e.id for e in runtime.queue.events(watched)[1:]
        ]
        assert [(n, d["status"]) for n, d in rest[-2:]] == [
            ("job", "CANCELLED"),
            ("end", "CANCELLED"),
        ]

        async with web.stream("GET", f"/api/jobs/{waiting}/events") as answer:
            seen = _lines(answer)
            assert (await anext(seen))[0] == "timeline"
            assert (await anext(seen))[1]["status"] == "QUEUED"
            began = time.monotonic()
            stop.set()  # as SIGTERM does: the stream ends, then the server
            async for _ in seen:
                pass
            await asyncio.wait_for(serving, SHUTDOWN_GRACE_SECONDS)
            assert time.monotonic() - began < SHUTDOWN_GRACE_SECONDS / 2


async def anext_data(runtime: Runtime, job_id: int, index: int) -> dict[str, object]:
    event = runtime.queue.events(job_id)[index]
    return {"id": event.id, "type": event.type, "at": event.at.isoformat(), "data": event.data}
