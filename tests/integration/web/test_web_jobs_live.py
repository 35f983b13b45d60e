"""The jobs list, live: ``GET /api/jobs/events`` over a real server (a stream never ends by
itself), with jobs created, run by the real worker and cancelled by another writer meanwhile;
its filters, its resumption and its token; the page that subscribes to it; and what a stream
remembers between looks (timeline ids committed late, rows sent, jobs that leave the list)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
import pytest
from pydantic import SecretStr

from tests.support.web import AUTH, TOKEN
from tests.support.web.browser import Browser, log_in
from tests.support.web.kinds import drain
from tikrelay.domain.jobs import JobEventRecord, JobStatus
from tikrelay.runtime.app import Runtime
from tikrelay.store.web_sql import JobChanges, ListedJob, job_changes
from tikrelay.web.live import GAP_SECONDS, ListWatch
from tikrelay.web.server import SHUTDOWN_GRACE_SECONDS, WebListener, bind, serve_until

#: Long enough for a few looks of a stream (one a second) on a busy machine.
WAIT = 20.0
LIVE = re.compile(r'data-jobs-events="([^"]+)"')


@dataclass
class Message:
    event: str
    data: dict[str, object]
    id: int | None


async def messages(answer: httpx.Response) -> AsyncIterator[Message]:
    """The messages of a stream as they come (comments and the retry line skipped)."""
    fields: dict[str, str] = {}
    async for line in answer.aiter_lines():
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        if "event" in fields:
            found = fields.get("id")
            yield Message(fields["event"], json.loads(fields["data"]), found and int(found))
        fields = {}


async def until(
    seen: AsyncIterator[Message], wanted: str, job_id: int, status: str | None = None
) -> tuple[Message, list[Message]]:
    """The first ``wanted`` message of the job (in ``status``), and every message before it."""
    before: list[Message] = []
    while True:
        found = await asyncio.wait_for(anext(seen), WAIT)
        same = found.event == wanted and found.data["id"] == job_id
        if same and (status is None or found.data["status"] == status):
            return found, before
        before.append(found)


@dataclass
class Served:
    url: str
    web: httpx.AsyncClient  # sends the token


@pytest.fixture
async def served(runtime: Runtime) -> AsyncIterator[Served]:
    """A real server over the runtime; stopped at the end with streams still open (they end at
    once)."""
    listener = WebListener(bind("127.0.0.1:0"), SecretStr(TOKEN))
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_until(runtime, listener, stop))
    async with httpx.AsyncClient(base_url=listener.url, timeout=WAIT, headers=AUTH) as web:
        yield Served(listener.url, web)
        stop.set()
        await asyncio.wait_for(serving, SHUTDOWN_GRACE_SECONDS)


@pytest.fixture
def server(served: Served) -> httpx.AsyncClient:
    return served.web


def newest_event(runtime: Runtime) -> int:
    return job_changes(runtime.queue.engine, None).last


async def test_new_jobs_and_their_moves_arrive_for_the_lists_kind(
    server: httpx.AsyncClient, runtime: Runtime
) -> None:
    service = runtime.service
    async with server.stream("GET", "/api/jobs/events?kind=greet") as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        seen = messages(answer)
        await asyncio.sleep(0.2)  # the stream has read where the timeline ends
        other = service.enqueue("refused", {}).job.id
        made = service.enqueue("greet", {"name": "Ann"}).job.id
        created, _ = await until(seen, "job", made)
        assert created.data["status"] == "QUEUED"
        assert (created.data["kind"], created.data["attempts"]) == ("greet", 0)
        assert created.data["max_attempts"] == runtime.queue.get(made).max_attempts  # type: ignore[union-attr]
        assert created.id is not None

        await drain(runtime)  # the real worker runs both jobs
        done, between = await until(seen, "job", made, "COMPLETED")
        statuses = [m.data["status"] for m in between if m.data["id"] == made]
        assert set(statuses) <= {"RUNNING"}  # RUNNING, unless the worker was quicker than a look
        assert done.data["attempts"] == 1
        job = runtime.queue.get(made)
        assert job is not None
        assert datetime.fromisoformat(str(done.data["updated_at"])) == job.updated_at
        assert all(m.data["id"] != other for m in [created, *between, done])

        another = service.enqueue("greet", {"name": "Bo"}).job.id
        await asyncio.to_thread(runtime.queue.cancel, another)  # another writer, meanwhile
        cancelled, between = await until(seen, "job", another, "CANCELLED")
        assert all(m.data["id"] in (another, made) for m in between)
        assert cancelled.data["error_message"] is None
        last = cancelled.id

    # A browser that reconnects goes on after the last id it saw: only what came since.
    assert last is not None
    later = service.enqueue("greet", {"name": "Cy"}).job.id
    async with server.stream(
        "GET", "/api/jobs/events?kind=greet", headers={"Last-Event-ID": str(last)}
    ) as answer:
        first, _ = await until(messages(answer), "job", later)
        assert first.data["status"] == "QUEUED"


async def test_a_status_filter_sends_jobs_entering_it_and_drops_those_leaving(
    server: httpx.AsyncClient, runtime: Runtime
) -> None:
    service = runtime.service
    shown = service.enqueue("greet", {"name": "Ann"}).job.id  # on the page already
    after = newest_event(runtime)
    async with server.stream("GET", f"/api/jobs/events?status=QUEUED&after={after}") as answer:
        seen = messages(answer)
        await asyncio.to_thread(runtime.queue.cancel, shown)
        left, before = await until(seen, "leave", shown)
        assert left.data == {"id": shown, "status": "CANCELLED"}
        assert before == []

        fresh = service.enqueue("greet", {"name": "Bo"}).job.id
        entered, _ = await until(seen, "job", fresh)
        assert entered.data["status"] == "QUEUED"
        await asyncio.to_thread(runtime.queue.cancel, fresh)
        await until(seen, "leave", fresh)

        # Created and cancelled within one look: dropped (the page may not have it; then the
        # drop changes nothing).
        brief = service.enqueue("greet", {"name": "Cy"}).job.id
        await asyncio.to_thread(runtime.queue.cancel, brief)
        await until(seen, "leave", brief)

    # A job that never is in the list's status is neither sent nor dropped.
    after = newest_event(runtime)
    async with server.stream("GET", f"/api/jobs/events?status=RUNNING&after={after}") as answer:
        seen = messages(answer)
        never = service.enqueue("greet", {"name": "Di"}).job.id
        await asyncio.to_thread(runtime.queue.cancel, never)
        ran = service.enqueue("greet", {"name": "Ed"}).job.id
        await drain(runtime)
        left, before = await until(seen, "leave", ran)  # RUNNING (perhaps sent), then COMPLETED
        assert left.data == {"id": ran, "status": "COMPLETED"}
        assert [(m.event, m.data["id"]) for m in before] in ([], [("job", ran)])


async def test_the_stream_needs_the_token_or_a_session_and_valid_filters(
    served: Served, runtime: Runtime, browser: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    assert (await stranger.get("/api/jobs/events")).status_code == 401
    wrong = await stranger.get("/api/jobs/events", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    user = await log_in(browser)
    for query in ("status=LOST", "after=-1", "kind=", f"after={2**63}"):
        assert (await browser.get(f"/api/jobs/events?{query}")).status_code == 401
        answer = await browser.get(f"/api/jobs/events?{query}", headers=user.cookie)
        assert answer.status_code == 422, query
    for resumed in ("1e3", "²".encode("latin-1"), str(2**63)):
        bad = await browser.get(
            "/api/jobs/events", headers={**user.cookie, "Last-Event-ID": resumed}
        )
        assert (bad.status_code, bad.json()["detail"]) == (422, "Last-Event-ID: not an event id")

    # A logged-in browser's session cookie opens the stream, as the page's script does.
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    async with httpx.AsyncClient(base_url=served.url, timeout=WAIT, cookies=jar) as page:
        assert (await page.get("/api/jobs/events")).status_code == 401
        visitor = await log_in(page)
        async with page.stream("GET", "/api/jobs/events", headers=visitor.cookie) as answer:
            assert answer.status_code == 200
            seen = messages(answer)
            await asyncio.sleep(0.2)
            made = runtime.service.enqueue("greet", {}).job.id
            await until(seen, "job", made)


async def test_the_jobs_page_subscribes_where_its_rows_stand(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    user: Browser = await log_in(browser)
    empty = await browser.get("/jobs?status=QUEUED&kind=greet", headers=user.cookie)
    assert '<div class="table-wrap" hidden>' in empty.text
    assert '<p id="no-jobs">No job matches these filters.</p>' in empty.text
    source = LIVE.search(empty.text)
    assert source is not None
    after = newest_event(runtime)
    assert unescape(source.group(1)) == (f"/api/jobs/events?status=QUEUED&kind=greet&after={after}")
    assert 'data-live-floor="0"' in empty.text
    assert "as of loading; reload for news" in empty.text

    made = [runtime.service.enqueue("greet", {"n": n}).job.id for n in range(51)]
    page = await browser.get("/jobs", headers=user.cookie)
    assert f'<tr data-job="{made[-1]}">' in page.text
    assert '<p id="no-jobs" hidden>' in page.text
    # Older jobs follow: only jobs above the last row shown join the first page.
    assert f'data-live-floor="{made[1]}"' in page.text
    source = LIVE.search(page.text)
    assert source is not None
    assert unescape(source.group(1)) == f"/api/jobs/events?after={newest_event(runtime)}"
    older = await browser.get(f"/jobs?cursor={made[1]}", headers=user.cookie)
    assert f'<tr data-job="{made[0]}">' in older.text
    assert "data-live-floor" not in older.text  # an older page adds no row


def listed(job_id: int, status: str) -> ListedJob:
    return ListedJob(job_id, "greet", status, 0, 5, datetime(2026, 1, 1, tzinfo=UTC), None, None)


def event(event_id: int, job_id: int, moved: tuple[str, str] | None = None) -> JobEventRecord:
    kind, data = "STAGE_STARTED", {}
    if moved is not None:
        kind, data = "STATUS_CHANGED", {"from": moved[0], "to": moved[1]}
    return JobEventRecord(event_id, job_id, kind, datetime(2026, 1, 1, tzinfo=UTC), data)


def test_ids_missing_below_the_newest_are_asked_for_again_for_a_while() -> None:
    watch = ListWatch(None, after=4)
    sent = watch.look(JobChanges(7, [event(5, 1), event(7, 2)], {1: listed(1, "QUEUED")}), 0.0)
    assert [line.splitlines()[0] for line in sent] == ["id: 7"]
    assert watch.again(1.0) == [6]  # committed late on PostgreSQL, or never (rolled back)
    # Found on the next look: sent like any other, and no longer asked for.
    late = watch.look(JobChanges(7, [event(6, 3)], {3: listed(3, "RUNNING")}), 2.0)
    assert late == [
        'id: 7\nevent: job\ndata: {"id": 3, "kind": "greet", "status": "RUNNING", '
        '"attempts": 0, "max_attempts": 5, "updated_at": '
        '"2026-01-01T00:00:00+00:00", "error_kind": null, "error_message": null}\n\n'
    ]
    assert watch.again(3.0) == []
    watch.look(JobChanges(10, [event(10, 1)], {}), 4.0)
    assert watch.again(5.0) == [8, 9]
    assert watch.again(4.0 + GAP_SECONDS) == []  # a rollback: given up


def test_a_job_is_sent_again_only_when_its_row_changed() -> None:
    watch = ListWatch(JobStatus.RUNNING, after=0)
    first = watch.look(
        JobChanges(1, [event(1, 1, ("QUEUED", "RUNNING"))], {1: listed(1, "RUNNING")}), 0
    )
    assert len(first) == 1
    assert watch.look(JobChanges(2, [event(2, 1)], {1: listed(1, "RUNNING")}), 0) == []
    gone = watch.look(
        JobChanges(3, [event(3, 1, ("RUNNING", "COMPLETED"))], {1: listed(1, "COMPLETED")}), 0
    )
    assert gone == ['id: 3\nevent: leave\ndata: {"id": 1, "status": "COMPLETED"}\n\n']
    # Not sent and never RUNNING: nothing to drop.
    assert watch.look(JobChanges(4, [event(4, 2)], {2: listed(2, "QUEUED")}), 0) == []


async def test_a_look_reads_the_rows_after_its_position_and_those_asked_again(
    runtime: Runtime,
) -> None:
    engine = runtime.queue.engine
    start = newest_event(runtime)
    greet = runtime.service.enqueue("greet", {}).job.id
    refused = runtime.service.enqueue("refused", {}).job.id
    found = job_changes(engine, start)
    assert {e.job_id for e in found.events} == {greet, refused}
    assert found.last == max(e.id for e in found.events) == newest_event(runtime)
    assert set(found.jobs) == {greet, refused}
    assert found.jobs[greet].status == "QUEUED"
    only = job_changes(engine, found.last, again=[found.events[0].id], kind="greet")
    assert [e.id for e in only.events] == [found.events[0].id]
    assert set(only.jobs) == ({greet} if found.events[0].job_id == greet else set())
    assert only.last == found.last
    assert job_changes(engine, found.last).events == []
