"""The catch-up digest's entries on both databases: gathered once, taken by one digest job (the
same set on its retries), forgotten with its deliveries; and, on PostgreSQL, a post gathered
while a digest job completes waits for that completion, so it is never stranded (it is either
seen by the completion or finds the digest job completed and queues a new one)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.support.jobs_db import BACKENDS, temporary_database
from tikrelay.domain.jobs import JobStatus
from tikrelay.store import digests_sql, migrate
from tikrelay.store.digests_sql import DigestEntry
from tikrelay.store.engine import create_db_engine
from tikrelay.store.tables import jobs

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def entry(number: int) -> DigestEntry:
    return DigestEntry(
        f"tiktok:{number}",
        f"https://www.tiktok.com/@alice/video/{number}",
        "@alice",
        NOW - timedelta(days=number),
    )


def migrated(backend: str, tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(backend, tmp_path) as url:
        found = create_db_engine(make_url(url))
        migrate.upgrade(found)
        yield found
        found.dispose()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from migrated(request.param, tmp_path)


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Engine]:
    """SQLite needs no lock of its own: BEGIN IMMEDIATE lets one writer in at a time."""
    yield from migrated("postgres", tmp_path)


def test_gathered_once_taken_by_one_digest_then_forgotten(engine: Engine) -> None:
    with engine.begin() as conn:
        assert digests_sql.add(conn, "main", entry(1), NOW)
        assert digests_sql.add(conn, "main", entry(2), NOW)
        assert not digests_sql.add(conn, "main", entry(1), NOW)  # gathered already
        assert digests_sql.add(conn, "other", entry(1), NOW)  # another destination's
    with engine.begin() as conn:
        taken = digests_sql.take(conn, "main", job_id=7)
    assert [found.post_key for found in taken] == ["tiktok:2", "tiktok:1"]  # oldest first
    with engine.begin() as conn:
        digests_sql.add(conn, "main", entry(3), NOW)  # while job 7 sends
        again = digests_sql.take(conn, "main", job_id=7)  # its retry: the same set
        assert again == taken
        assert digests_sql.finish(conn, "main", job_id=7) == 1  # tiktok:3 waits for the next
        assert [found.post_key for found in digests_sql.take(conn, "main", 8)] == ["tiktok:3"]
        assert digests_sql.finish(conn, "main", job_id=8) == 0


def job(conn: Connection, status: JobStatus) -> int:
    """A digest job row in ``status``; its id."""
    return int(
        conn.execute(
            insert(jobs)
            .values(
                kind="digest",
                payload={"destination": "main"},
                status=status.value,
                max_attempts=5,
                run_at=NOW,
                created_at=NOW,
                updated_at=NOW,
            )
            .returning(jobs.c.id)
        ).scalar_one()
    )


def test_posts_of_a_failed_digest_go_with_the_next_one(engine: Engine) -> None:
    """A digest that failed for good (the bot was out of the chat) strands nothing: the next
    digest, or its retry (a new job), takes its posts; a digest still running keeps its own."""
    with engine.begin() as conn:
        running, failed = job(conn, JobStatus.RUNNING), job(conn, JobStatus.FAILED)
        digests_sql.add(conn, "main", entry(1), NOW)
        assert len(digests_sql.take(conn, "main", failed)) == 1
        digests_sql.add(conn, "main", entry(2), NOW)
        assert [e.post_key for e in digests_sql.take(conn, "main", running)] == [
            "tiktok:2",
            "tiktok:1",
        ]
        assert digests_sql.take(conn, "main", job(conn, JobStatus.RUNNING)) == []
        # What a completing digest counts as left: posts no live digest holds.
        digests_sql.add(conn, "main", entry(3), NOW)
        assert digests_sql.finish(conn, "main", running) == 1


def test_a_post_gathered_while_a_digest_completes_waits_for_it(postgres: Engine) -> None:
    """``add`` takes the lock ``finish`` holds until its transaction ends: tried with a lock
    timeout while a completion is open, it gives up instead of slipping past it."""
    engine = postgres
    with engine.begin() as conn:
        digests_sql.add(conn, "main", entry(1), NOW)
        digests_sql.take(conn, "main", job_id=7)
    with engine.connect() as completing, engine.connect() as gathering:
        completing.begin()
        assert digests_sql.finish(completing, "main", job_id=7) == 0
        gathering.begin()
        gathering.execute(text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            digests_sql.add(gathering, "main", entry(2), NOW)
        gathering.rollback()
        completing.commit()
        with gathering.begin():  # the completion is over: the post is gathered at once
            assert digests_sql.add(gathering, "main", entry(2), NOW)
    with engine.connect() as conn:
        assert [found.post_key for found in digests_sql.take(conn, "main", 8)] == ["tiktok:2"]
