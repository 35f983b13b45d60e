"""``tikrelay jobs …`` and ``tikrelay db upgrade``: look at and steer the job queue."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from tikrelay.cli.common import EXIT_REFUSED, ConfigOption, fail, settings_from
from tikrelay.config.logging import configure_logging
from tikrelay.domain.jobs import IllegalTransitionError, Job, JobStatus, job_report

if TYPE_CHECKING:
    from tikrelay.store import JobQueue

# The database layer is imported inside the commands: `tikrelay --help` should not pay for it.

#: Job ids are 64-bit integers in both databases; a bigger number cannot even be looked up.
MAX_JOB_ID = 2**63 - 1
#: More rows than any terminal shows; the bound keeps LIMIT a 64-bit integer.
MAX_LIST = 100_000

JobId = Annotated[int, typer.Argument(min=1, max=MAX_JOB_ID, help="The job's id.")]

jobs_app = typer.Typer(help="List, inspect, retry and cancel jobs.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def queue_from(config: Path | None) -> JobQueue:
    from tikrelay.store import DatabaseError, open_queue

    # Event lines would drown the command's own output; warnings and errors still show.
    configure_logging(level=logging.WARNING)
    try:
        return open_queue(settings_from(config))
    except DatabaseError as exc:
        raise fail(str(exc)) from None


def _when(job: Job) -> str:
    return job.updated_at.strftime("%Y-%m-%d %H:%M:%S")


@jobs_app.command("list")
def list_jobs(
    status: Annotated[
        JobStatus | None, typer.Option("--status", "-s", case_sensitive=False)
    ] = None,
    kind: str | None = typer.Option(None, "--kind", help="Only jobs of this kind."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=MAX_LIST),
    config: Path | None = ConfigOption,
) -> None:
    """The newest jobs, optionally of one status."""
    queue = queue_from(config)
    table = Table("id", "kind", "status", "attempts", "updated (UTC)", "error", box=None)
    for job in queue.list_jobs(status, limit, kind):
        error = f"{job.error_kind}: {job.error_message}" if job.error_kind else ""
        attempts = f"{job.attempts}/{job.max_attempts}"
        table.add_row(str(job.id), job.kind, job.status.value, attempts, _when(job), error)
    Console(width=160).print(table)


@jobs_app.command("show")
def show(job_id: JobId, config: Path | None = ConfigOption) -> None:
    """A job and its timeline of events."""
    queue = queue_from(config)
    job = queue.get(job_id)
    if job is None:
        raise fail(
            f"job {job_id} does not exist (finished jobs are deleted after jobs.keep_days, "
            "failed and cancelled ones after jobs.keep_failed_days)",
            EXIT_REFUSED,
        )
    for line in job_report(job, queue.events(job_id)):
        typer.echo(line)


@jobs_app.command("retry")
def retry(job_id: JobId, config: Path | None = ConfigOption) -> None:
    """Run a failed or cancelled job again (as a new job), or a waiting retry now."""
    from tikrelay.store.transition import TransitionRefusedError

    queue = queue_from(config)
    try:
        result = queue.retry(job_id)
    except TransitionRefusedError as exc:
        raise fail(str(exc), EXIT_REFUSED) from None
    except IllegalTransitionError as exc:
        raise fail(
            f"job {job_id} is {exc.current}; only failed, cancelled or waiting jobs can be retried",
            EXIT_REFUSED,
        ) from None
    if result.job.id != job_id:
        typer.echo(f"job {job_id} will run again as job {result.job.id}")
    else:
        typer.echo(f"job {job_id} is due now")


@jobs_app.command("cancel")
def cancel(job_id: JobId, config: Path | None = ConfigOption) -> None:
    """Cancel a waiting job, or ask the worker running it to stop."""
    from tikrelay.store.transition import TransitionRefusedError

    queue = queue_from(config)
    try:
        job = queue.cancel(job_id)
    except TransitionRefusedError as exc:
        raise fail(str(exc), EXIT_REFUSED) from None
    except IllegalTransitionError as exc:
        raise fail(
            f"job {job_id} is {exc.current} already; nothing to cancel", EXIT_REFUSED
        ) from None
    if job.status is JobStatus.CANCELLED:
        typer.echo(f"job {job_id} cancelled")
    else:
        typer.echo(f"job {job_id} is running; its worker will stop it")


@db_app.command("upgrade")
def upgrade(config: Path | None = ConfigOption) -> None:
    """Apply database migrations (they also run on start)."""
    from tikrelay.store import DatabaseError, migrate, open_engine

    try:
        engine = open_engine(settings_from(config), upgrade=False)
        applied = migrate.upgrade(engine)
    except DatabaseError as exc:
        raise fail(str(exc)) from None
    head = migrate.head_revision()
    typer.echo(f"database upgraded to {head}" if applied else f"database already at {head}")
    engine.dispose()
