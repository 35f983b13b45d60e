"""The jobs pages: the newest jobs (filters by status and kind, paged by cursor), and one job
with its payload and its timeline. Once the page's script runs, both follow the jobs live by
Server-Sent Events (``web.live``): the list adds the jobs of its filters as they are created
or enter its status, updates its rows and drops those that leave its status; a job's page
adds its timeline. Retry and cancel are forms, through the queue's guarded moves as
``tikrelay jobs retry|cancel`` do."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from tikrelay.domain.jobs import FINAL_STATUSES, IllegalTransitionError, JobStatus
from tikrelay.store.reports import JobPage, job_page
from tikrelay.store.transition import TransitionRefusedError
from tikrelay.store.web_sql import job_changes
from tikrelay.web.jobs import GONE, MAX_JOB_ID
from tikrelay.web.views import Context, FormViewer, PageViewer, Viewer, go, render

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
JobId = Annotated[int, Path(ge=1, le=MAX_JOB_ID)]


@router.get("/jobs")
def jobs_page(
    request: Request,
    context: Context,
    viewer: PageViewer,
    status: Annotated[str, Query(max_length=20)] = "",
    kind: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[int | None, Query(ge=1, le=MAX_JOB_ID)] = None,
) -> Response:
    """The filters come from a form whose empty fields mean "any"."""
    engine = context.runtime.queue.engine
    known = {s.value: s for s in JobStatus}
    wanted = known.get(status.strip().upper())
    problem = None
    if status.strip() and wanted is None:
        problem = f"status: {status!r} is not one of {', '.join(known)}"
    wanted_kind = kind.strip() or None
    # Where the timeline ends before the jobs are read: the live list goes on from there.
    seen = job_changes(engine, None).last
    page = job_page(engine, status=wanted, kind=wanted_kind, limit=PER_PAGE, before=cursor)
    filters = {"status": wanted.value if wanted else "", "kind": wanted_kind or ""}
    kept = {k: v for k, v in filters.items() if v}
    following = None
    if page.after is not None:
        following = "/jobs?" + urlencode({**kept, "cursor": page.after})
    values = {
        "jobs": page.jobs,
        "filters": filters,
        "statuses": [s.value for s in JobStatus],
        "following": following,
        "first_page": cursor is None,
        "problem": problem,
        "live": "/api/jobs/events?" + urlencode({**kept, "after": seen}),
        "floor": _floor(page, first_page=cursor is None),
    }
    status_code = HTTPStatus.UNPROCESSABLE_ENTITY if problem else HTTPStatus.OK
    return render(request, "jobs.html", values, viewer, status=status_code)


def _floor(page: JobPage, *, first_page: bool) -> int | None:
    """Above which id the live list adds a job it does not show: any on the first page, but
    only above its last row when older ones follow; None on older pages, which only update
    or drop their rows (a new job belongs on the first)."""
    if not first_page:
        return None
    return page.jobs[-1].id if page.after is not None and page.jobs else 0


def _job_page(
    request: Request,
    context: Context,
    viewer: Viewer,
    job_id: int,
    problem: str | None = None,
    status: int = HTTPStatus.OK,
) -> Response:
    queue = context.runtime.queue
    job = queue.get(job_id)
    if job is None:
        gone = {"title": f"Job {job_id}", "message": f"Job {job_id} does not exist ({GONE})."}
        return render(request, "missing.html", gone, viewer, status=HTTPStatus.NOT_FOUND)
    events = queue.events(job_id)
    values: dict[str, Any] = {
        "job": job,
        "events": events,
        "last_event": events[-1].id if events else 0,
        "final": job.status in FINAL_STATUSES,
        "problem": problem,
    }
    return render(request, "job.html", values, viewer, status=status)


@router.get("/jobs/{job_id}")
def job_page_view(
    request: Request, context: Context, viewer: PageViewer, job_id: JobId
) -> Response:
    return _job_page(request, context, viewer, job_id)


@router.post("/jobs/{job_id}/retry")
def retry(request: Request, context: Context, viewer: FormViewer, job_id: JobId) -> Response:
    try:
        result = context.runtime.queue.retry(job_id)
    except TransitionRefusedError as exc:
        message = f"Not retried: {exc}."
        return _job_page(request, context, viewer, job_id, message, HTTPStatus.CONFLICT)
    except IllegalTransitionError as exc:
        message = (
            f"Job {job_id} is {exc.current}; only failed, cancelled or waiting jobs can be retried."
        )
        return _job_page(request, context, viewer, job_id, message, HTTPStatus.CONFLICT)
    return go(f"/jobs/{result.job.id}")


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, context: Context, viewer: FormViewer, job_id: JobId) -> Response:
    try:
        context.runtime.queue.cancel(job_id)
    except TransitionRefusedError as exc:
        message = f"Not cancelled: {exc}."
        return _job_page(request, context, viewer, job_id, message, HTTPStatus.CONFLICT)
    except IllegalTransitionError as exc:
        message = f"Job {job_id} is {exc.current} already; nothing to cancel."
        return _job_page(request, context, viewer, job_id, message, HTTPStatus.CONFLICT)
    return go(f"/jobs/{job_id}")
