"""``/api/jobs``: filters, cursor paging, one job's timeline, retry and cancel through the queue's
one guarded move, and the 4xx answers that name what is wrong."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.support.web.kinds import drain
from tikrelay.domain.jobs import JobEvent, JobStatus
from tikrelay.runtime.app import Runtime


def later(runtime: Runtime, name: str) -> int:
    """A job waiting an hour for its run_at: PENDING."""
    run_at = runtime.queue.clock() + timedelta(hours=1)
    return runtime.service.enqueue("greet", {"name": name}, run_at=run_at).job.id


async def test_pages_walk_every_job_once_newest_first(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    made = [runtime.service.enqueue("greet", {"name": str(n)}).job.id for n in range(7)]
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        answer = await client.get("/api/jobs", params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += [job["id"] for job in body["jobs"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        runtime.service.enqueue("greet", {"name": "meanwhile"})  # shifts nothing
    assert seen == sorted(made, reverse=True)
    assert pages == 3


async def test_filters_by_status_and_kind(runtime: Runtime, client: httpx.AsyncClient) -> None:
    waiting = later(runtime, "later")
    failing = runtime.service.enqueue("refused", {}).job.id
    runtime.service.enqueue("greet", {"name": "now"})
    await drain(runtime)
    pending = (await client.get("/api/jobs", params={"status": "PENDING"})).json()["jobs"]
    assert [job["id"] for job in pending] == [waiting]
    failed = (await client.get("/api/jobs", params={"status": "FAILED", "kind": "refused"})).json()
    assert [(j["id"], j["error_kind"]) for j in failed["jobs"]] == [(failing, "deleted")]
    greetings = (await client.get("/api/jobs", params={"kind": "greet"})).json()["jobs"]
    assert {job["status"] for job in greetings} == {"PENDING", "COMPLETED"}
    assert (await client.get("/api/jobs", params={"kind": "nothing"})).json()["jobs"] == []


async def test_bad_filters_are_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    for params, field in (
        ({"status": "DONE"}, "status"),
        ({"status": "failed"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "-1"}, "cursor"),
        ({"cursor": "9" * 30}, "cursor"),
        ({"kind": "k" * 101}, "kind"),
    ):
        answer = await client.get("/api/jobs", params=params)
        assert answer.status_code == 422, (params, answer.text)
        problems = answer.json()["detail"]
        assert [p["loc"] for p in problems] == [["query", field]], params
        assert problems[0]["msg"]


async def test_a_job_with_its_timeline(runtime: Runtime, client: httpx.AsyncClient) -> None:
    job_id = runtime.service.enqueue("greet", {"name": "Ada"}).job.id
    await drain(runtime)
    answer = await client.get(f"/api/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    job = answer.json()
    assert (job["id"], job["kind"], job["status"]) == (job_id, "greet", "COMPLETED")
    assert job["payload"] == {"name": "Ada"}
    types = [event["type"] for event in job["events"]]
    assert types[0] == JobEvent.JOB_CREATED
    assert "GREETING_COMPOSED" in types
    assert JobEvent.STAGE_FINISHED in types
    assert [e["id"] for e in job["events"]] == sorted(e["id"] for e in job["events"])
    moves = [e["data"] for e in job["events"] if e["type"] == JobEvent.STATUS_CHANGED]
    assert moves[-1] == {"from": "RUNNING", "to": "COMPLETED"}


async def test_unknown_and_impossible_ids(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/api/jobs/424242"),
        ("POST", "/api/jobs/424242/retry"),
        ("POST", "/api/jobs/424242/cancel"),
    ):
        answer = await client.request(method, path)
        assert answer.status_code == 404, answer.text
        assert answer.json()["detail"].startswith("job 424242 does not exist")
    for bad in ("0", "x", str(2**63)):
        answer = await client.get(f"/api/jobs/{bad}")
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["path", "job_id"]


async def test_retrying_a_failed_job_runs_it_again_as_a_new_job(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    failed = runtime.service.enqueue("refused", {"n": 1}).job.id
    await drain(runtime)
    answer = await client.post(f"/api/jobs/{failed}/retry")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["new_job"] is True
    again = body["job"]
    assert again["id"] != failed
    assert (again["kind"], again["status"]) == ("refused", "QUEUED")
    timeline = (await client.get(f"/api/jobs/{failed}")).json()["events"]
    asked = [e for e in timeline if e["type"] == JobEvent.RETRY_REQUESTED]
    assert [e["data"] for e in asked] == [{"new_job_id": again["id"]}]
    original = runtime.queue.get(failed)
    assert original is not None
    assert original.status is JobStatus.FAILED  # its timeline stays as it was


async def test_retrying_a_waiting_job_makes_it_due_now(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    waiting = later(runtime, "soon")
    body = (await client.post(f"/api/jobs/{waiting}/retry")).json()
    assert (body["new_job"], body["job"]["id"], body["job"]["status"]) == (
        False,
        waiting,
        "QUEUED",
    )


async def test_cancelling_a_pending_job_and_moves_that_are_refused(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    waiting = later(runtime, "never")
    answer = await client.post(f"/api/jobs/{waiting}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json()["job"]["status"] == "CANCELLED"
    again = await client.post(f"/api/jobs/{waiting}/cancel")
    assert again.status_code == 409
    assert again.json() == {"detail": f"job {waiting} is CANCELLED already; nothing to cancel"}
    done = runtime.service.enqueue("greet", {"name": "done"}).job.id
    await drain(runtime)
    refused = await client.post(f"/api/jobs/{done}/retry")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"job {done} is COMPLETED; only failed, cancelled or waiting jobs can be retried"
    )
    events = [e.type for e in runtime.queue.events(waiting)]
    assert events.count(JobEvent.JOB_CANCELLED) == 1  # the refused second cancel wrote nothing
