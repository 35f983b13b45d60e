"""``/api/jobs``: list with filters and cursor paging, one job with its timeline, retry, cancel.
The moves go through the queue's ``retry`` and ``cancel``, as ``tikrelay jobs retry|cancel``
do, so the one guarded transition decides what is allowed."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from tikrelay.domain.jobs import IllegalTransitionError, JobStatus
from tikrelay.store.queue import JobQueue
from tikrelay.store.reports import job_page
from tikrelay.store.transition import TransitionRefusedError
from tikrelay.web.auth import require_auth
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.models import CancelOut, JobDetail, JobOut, JobPageOut, Problem, RetryOut

#: Job ids are 64-bit integers in both databases; a bigger number cannot even be looked up.
MAX_JOB_ID = 2**63 - 1
MAX_PAGE = 500
GONE = (
    "finished jobs are deleted after jobs.keep_days, failed and cancelled ones after "
    "jobs.keep_failed_days"
)

router = APIRouter(
    prefix="/api/jobs",
    tags=["jobs"],
    dependencies=[Depends(require_auth)],
    responses={401: {"model": Problem, "description": "No token, or a wrong one."}},
)
Context = Annotated[WebContext, Depends(web_context)]
JobId = Annotated[int, Path(ge=1, le=MAX_JOB_ID, description="The job's id.")]
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"model": Problem, "description": "No such job."}}
REFUSED: Responses = {409: {"model": Problem, "description": "The job's status does not allow it."}}


@router.get("")
def list_jobs(
    context: Context,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    kind: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Only jobs of this kind.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Jobs per page.")] = 50,
    cursor: Annotated[
        str | None,
        Query(
            pattern=r"^[1-9][0-9]{0,17}$",
            description="next_cursor of the previous page; omit for the newest jobs.",
        ),
    ] = None,
) -> JobPageOut:
    """The newest jobs first, optionally of one status and one kind."""
    before = int(cursor) if cursor is not None else None
    engine = context.runtime.queue.engine
    page = job_page(engine, status=status, kind=kind, limit=limit, before=before)
    after = str(page.after) if page.after is not None else None
    return JobPageOut(jobs=[JobOut.of(job) for job in page.jobs], next_cursor=after)


@router.get("/{job_id}", responses=NOT_FOUND)
def show_job(context: Context, job_id: JobId) -> JobDetail:
    """A job, its payload and its timeline of events, oldest first."""
    queue = context.runtime.queue
    job = queue.get(job_id)
    if job is None:
        raise _not_found(job_id)
    return JobDetail.of_job(job, queue.events(job_id))


@router.post("/{job_id}/retry", responses={**NOT_FOUND, **REFUSED})
def retry_job(context: Context, job_id: JobId) -> RetryOut:
    """Run a failed or cancelled job again (as a new job), or a job waiting for its retry now."""
    queue = context.runtime.queue
    try:
        result = queue.retry(job_id)
    except TransitionRefusedError as exc:
        raise _refused(exc) from None
    except IllegalTransitionError as exc:
        raise _conflict(
            f"job {job_id} is {exc.current}; only failed, cancelled or waiting jobs can be retried"
        ) from None
    return RetryOut(job=JobOut.of(result.job), new_job=result.job.id != job_id)


@router.post("/{job_id}/cancel", responses={**NOT_FOUND, **REFUSED})
def cancel_job(context: Context, job_id: JobId) -> CancelOut:
    """Cancel a waiting job, or ask the worker running it to stop."""
    queue: JobQueue = context.runtime.queue
    try:
        job = queue.cancel(job_id)
    except TransitionRefusedError as exc:
        raise _refused(exc) from None
    except IllegalTransitionError as exc:
        raise _conflict(f"job {job_id} is {exc.current} already; nothing to cancel") from None
    return CancelOut(job=JobOut.of(job))


def _not_found(job_id: int) -> HTTPException:
    return HTTPException(HTTPStatus.NOT_FOUND, detail=f"job {job_id} does not exist ({GONE})")


def _conflict(message: str) -> HTTPException:
    return HTTPException(HTTPStatus.CONFLICT, detail=message)


def _refused(exc: TransitionRefusedError) -> HTTPException:
    """The job is gone, or moved between the look and the guarded UPDATE."""
    return _not_found(exc.job_id) if exc.current is None else _conflict(str(exc))
