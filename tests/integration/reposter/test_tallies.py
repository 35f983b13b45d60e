"""The totals kept up as posts are listed and delivered (``tallies``, each source's ``listed``
and ``delivered``) equal a count of the history, on both databases: written through the
reposter's own SQL, concurrently from two connections, and filled from an old history by the
migration."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.engine import make_url

from tests.support.jobs_db import BACKENDS, temporary_database
from tikrelay.domain.jobs import JobEvent
from tikrelay.store import JobQueue, NewJob, migrate, tallies_sql
from tikrelay.store import relay as sql
from tikrelay.store.engine import create_db_engine
from tikrelay.store.tables import deliveries, job_events, jobs, source_posts, sources
from tikrelay.store.transition import add_events
from tikrelay.store.web_sql import stats

NOW = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)


def deliver(conn: Connection, post: str, destination: str, at: datetime) -> None:
    sql.record_delivery(
        conn,
        post_key=post,
        destination=destination,
        chat_id="-100",
        topic_id=None,
        message_ids=[1],
        job_id=1,
        reconciled=False,
        now=at,
    )


def recount(conn: Connection) -> dict[str, Any]:
    """What the totals should say, counted from the history."""
    per_source = {}
    for source_id, key in conn.execute(select(sources.c.id, sources.c.key)):
        listed = select(source_posts.c.post_key).where(source_posts.c.source_id == source_id)
        per_source[key] = (
            conn.execute(select(func.count()).select_from(listed.subquery())).scalar_one(),
            conn.execute(
                select(func.count()).where(deliveries.c.post_key.in_(listed))
            ).scalar_one(),
        )
    days: dict[tuple[str, date], int] = {}
    for destination, at in conn.execute(
        select(deliveries.c.destination, deliveries.c.delivered_at)
    ):
        days[destination, at.date()] = days.get((destination, at.date()), 0) + 1
    return {"sources": per_source, "days": days}


def kept(conn: Connection) -> dict[str, Any]:
    rows = conn.execute(select(sources.c.key, sources.c.listed, sources.c.delivered))
    found = conn.execute(
        select(
            tallies_sql.tallies.c.label, tallies_sql.tallies.c.day, tallies_sql.tallies.c.value
        ).where(tallies_sql.tallies.c.name == tallies_sql.DELIVERED)
    )
    return {
        "sources": {key: (listed, delivered) for key, listed, delivered in rows},
        "days": {(label, day): value for label, day, value in found},
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_totals_follow_listings_and_deliveries(backend: str, tmp_path: Path) -> None:
    with temporary_database(backend, tmp_path) as url:
        engine = create_db_engine(make_url(url))
        try:
            migrate.upgrade(engine)
            with engine.begin() as conn:
                a = sql.ensure_source(conn, "tiktok:@a", "tiktok", "a", NOW)
                b = sql.ensure_source(conn, "tiktok:@b", "tiktok", "b", NOW)
                sql.record_listing(conn, a.id, ["t:1", "t:2"], NOW, 1.5)
                deliver(conn, "t:1", "main", NOW)
                deliver(conn, "t:1", "mirror", NOW + timedelta(minutes=2))  # the next UTC day
                # b lists a post already delivered twice, then one delivered after.
                sql.record_listing(conn, b.id, ["t:1", "t:3"], NOW, None)
                deliver(conn, "t:3", "main", NOW)
                sql.record_listing(conn, a.id, ["t:2", "t:3"], NOW)  # t:3 is new to a
                seconds = conn.execute(
                    select(sources.c.last_poll_seconds).where(sources.c.id == a.id)
                ).scalar_one()
            with engine.connect() as conn:
                assert kept(conn) == recount(conn)
                assert kept(conn)["sources"] == {"tiktok:@a": (3, 3), "tiktok:@b": (2, 3)}
            assert seconds is None  # the last poll of a did not say how long it took
            figures = stats(engine, NOW.date() + timedelta(days=1), days=2)
            assert figures.delivered == [2, 1]
            assert [(d.name, d.delivered) for d in figures.destinations] == [
                ("main", 2),
                ("mirror", 1),
            ]
            assert figures.destinations[1].last_delivered_at == NOW + timedelta(minutes=2)
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_finished_stages_fill_the_histogram_as_their_events_are_written(
    backend: str, tmp_path: Path
) -> None:
    with temporary_database(backend, tmp_path) as url:
        engine = create_db_engine(make_url(url))
        try:
            migrate.upgrade(engine)
            queue = JobQueue(engine)
            one, two, three = (
                queue.enqueue(NewJob(kind="k", payload={}, max_attempts=1, run_at=NOW)).job.id
                for _ in range(3)
            )
            with engine.begin() as conn:
                add_events(
                    conn,
                    [
                        (one, JobEvent.STAGE_STARTED, {"stage": "DOWNLOAD"}),
                        (one, JobEvent.STAGE_FINISHED, {"stage": "DOWNLOAD", "seconds": 0.5}),
                        (two, JobEvent.STAGE_FINISHED, {"stage": "DOWNLOAD", "seconds": 0.6}),
                        (two, JobEvent.STAGE_FINISHED, {"stage": "TELEGRAM_SEND", "seconds": 12}),
                    ],
                    NOW,
                )
            with engine.begin() as conn:
                add_events(
                    conn,
                    [(three, JobEvent.STAGE_FINISHED, {"stage": "DOWNLOAD", "seconds": 0.1})],
                    NOW,
                )
                found = tallies_sql.stage_histograms(conn)
        finally:
            engine.dispose()
    assert found["DOWNLOAD"].count == 3
    assert found["DOWNLOAD"].total == pytest.approx(1.2)
    assert found["DOWNLOAD"].within[:4] == [1, 2, 3, 3]  # within 0.25, 0.5, 1 and 2.5 s
    assert found["TELEGRAM_SEND"].within[5:7] == [0, 1]  # over 10 s, within 30
    assert found["TELEGRAM_SEND"].count == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_writers_adding_to_one_tally_both_count(backend: str, tmp_path: Path) -> None:
    """Two transactions delivering to the same destination on the same day, each committing
    after the other started: the upsert counts both (no lost update, no conflict error)."""
    with temporary_database(backend, tmp_path) as url:
        engine = create_db_engine(make_url(url))
        try:
            migrate.upgrade(engine)
            with engine.begin() as conn:
                deliver(conn, "t:0", "main", NOW)  # the row exists: both writers update it
            errors: list[BaseException] = []

            def writer(start: int) -> None:
                try:
                    for n in range(start, start + 20):
                        with engine.begin() as conn:
                            deliver(conn, f"t:{n}", "main", NOW)
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=writer, args=(s,)) for s in (100, 200)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            with engine.connect() as conn:
                assert tallies_sql.totals(conn, tallies_sql.DELIVERED)[0].value == 41
                assert kept(conn)["days"] == recount(conn)["days"]
        finally:
            engine.dispose()


def _upgrade_to(engine: Engine, revision: str) -> None:
    config = migrate.alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migration_fills_the_totals_from_the_history(backend: str, tmp_path: Path) -> None:
    with temporary_database(backend, tmp_path) as url:
        engine = create_db_engine(make_url(url))
        try:
            _upgrade_to(engine, "0005")
            with engine.begin() as conn:
                ids = [
                    conn.execute(
                        insert(sources).returning(sources.c.id),
                        {"key": key, "site": "tiktok", "handle": key, "created_at": NOW},
                    ).scalar_one()
                    for key in ("tiktok:@a", "tiktok:@b", "tiktok:@quiet")
                ]
                conn.execute(
                    insert(source_posts),
                    [
                        {"source_id": ids[0], "post_key": "t:1", "seen_at": NOW},
                        {"source_id": ids[0], "post_key": "t:2", "seen_at": NOW},
                        {"source_id": ids[1], "post_key": "t:2", "seen_at": NOW},
                    ],
                )
                conn.execute(
                    insert(deliveries),
                    [
                        {
                            "post_key": post,
                            "destination": destination,
                            "chat_id": "-100",
                            "message_ids": [1],
                            "delivered_at": at,
                        }
                        for post, destination, at in (
                            ("t:1", "main", NOW - timedelta(days=3)),
                            ("t:2", "main", NOW),
                            ("t:2", "mirror", NOW + timedelta(minutes=5)),
                        )
                    ],
                )
                job = conn.execute(
                    insert(jobs).returning(jobs.c.id),
                    {
                        "kind": "deliver",
                        "payload": {},
                        "status": "COMPLETED",
                        "max_attempts": 1,
                        "run_at": NOW,
                        "created_at": NOW,
                        "updated_at": NOW,
                    },
                ).scalar_one()
                conn.execute(
                    insert(job_events),
                    [
                        {"job_id": job, "type": "STAGE_FINISHED", "data": data, "at": NOW}
                        for data in (
                            {"stage": "DOWNLOAD", "seconds": 0.2},
                            {"stage": "DOWNLOAD", "seconds": 3.0},
                            {"stage": "DOWNLOAD", "seconds": 4000.0},
                            {"stage": "FEED_FETCH", "seconds": 0.25},
                            {"stage": "FEED_FETCH"},  # no time: not counted
                        )
                    ],
                )
            migrate.upgrade(engine)
            with engine.connect() as conn:
                histograms = tallies_sql.stage_histograms(conn)
                assert kept(conn) == recount(conn)
                assert kept(conn)["sources"]["tiktok:@a"] == (2, 3)
                assert kept(conn)["sources"]["tiktok:@quiet"] == (0, 0)
                mirror = tallies_sql.totals(conn, tallies_sql.DELIVERED)[1]
            download = histograms["DOWNLOAD"]
            assert (download.count, download.total) == (3, pytest.approx(4003.2))
            assert download.within == [1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2]  # 4,000 s: +Inf only
            assert histograms["FEED_FETCH"].within[0] == histograms["FEED_FETCH"].count == 1
            assert (mirror.label, mirror.value) == ("mirror", 1)
            assert mirror.last_at == NOW + timedelta(minutes=5)
        finally:
            engine.dispose()
