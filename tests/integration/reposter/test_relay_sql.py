"""The reposter's SQL on both databases: what a source listed, intents, and 'all sent'."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from tests.support.jobs_db import BACKENDS, temporary_database
from tikrelay.store import migrate
from tikrelay.store import relay as sql
from tikrelay.store.engine import create_db_engine

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("backend", BACKENDS)
def test_listing_intents_and_all_sent(backend: str, tmp_path: Path) -> None:
    with temporary_database(backend, tmp_path) as url:
        engine = create_db_engine(make_url(url))
        try:
            migrate.upgrade(engine)
            with engine.begin() as conn:
                source = sql.ensure_source(conn, "tiktok:@a", "tiktok", "a", NOW)
                assert sql.ensure_source(conn, "tiktok:@a", "tiktok", "a", NOW) == source
                assert sql.record_listing(conn, source.id, ["t:1", "t:2"], NOW) == ["t:1", "t:2"]
                assert sql.record_listing(conn, source.id, ["t:2", "t:3"], NOW) == ["t:3"]

                def intent(part: int) -> None:
                    sql.start_intent(
                        conn,
                        post_key="t:1",
                        destination="d",
                        part=part,
                        chat_id="-100",
                        expected=2,
                        parts=2,
                        after_message_id=10,
                        now=NOW,
                    )

                intent(0)
                assert sql.sent_already(conn, "t:1", "d") is None  # part 1 not started
                sql.confirm_intent(conn, "t:1", "d", 0, [11, 12], NOW)
                intent(1)
                assert sql.sent_already(conn, "t:1", "d") is None  # part 1 not confirmed
                assert [o.intent.part for o in sql.open_intents(conn, "-100", "t:9")] == [1]
                assert sql.open_intents(conn, "-100", "t:1") == []
                sql.confirm_intent(conn, "t:1", "d", 1, [13, 14], NOW)
                assert sql.sent_already(conn, "t:1", "d") == [11, 12, 13, 14]
                assert sql.newest_message_id(conn, "-100") == 14
                assert sql.known_message_ids(conn, "-100", 12, ("t:9", "d", 0)) == {13, 14}
                assert sql.known_message_ids(conn, "-100", 12, ("t:1", "d", 1)) == set()

                sql.start_intent(
                    conn,
                    post_key="t:2",
                    destination="d",
                    part=0,
                    chat_id="-100",
                    expected=3,
                    parts=1,
                    after_message_id=14,
                    now=NOW,
                )
                # an album cut short: one arrived
                sql.remark_intent(conn, "t:2", "d", 0, after=None, arrived=[15])
                (open_one,) = sql.open_intents(conn, "-100", "t:9")
                assert open_one.intent.arrived == [15]
                assert sql.known_message_ids(conn, "-100", 14, ("t:9", "d", 0)) == {15}
                sql.drop_intent(conn, "t:2", "d", 0)
                assert sql.open_intents(conn, "-100", "t:9") == []
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_what_a_schedule_counts_as_sent(backend: str, tmp_path: Path) -> None:
    """A destination's sends: deliveries when recorded (a digest's, one send), and sends other
    jobs started and have not recorded (in flight, or cut short by a crash) when they started;
    not the asking post's own, not twice once recorded."""
    minutes = [NOW.replace(minute=m) for m in range(6)]

    def intent(conn: Connection, post: str, at: datetime, destination: str = "main") -> None:
        sql.start_intent(
            conn,
            post_key=post,
            destination=destination,
            part=0,
            chat_id="-100",
            expected=1,
            parts=1,
            after_message_id=None,
            now=at,
        )

    def delivered(conn: Connection, post: str, at: datetime, job_id: int) -> None:
        sql.record_delivery(
            conn,
            post_key=post,
            destination="main",
            chat_id="-100",
            topic_id=None,
            message_ids=[1],
            job_id=job_id,
            reconciled=False,
            now=at,
        )

    with temporary_database(backend, tmp_path) as url:
        engine = create_db_engine(make_url(url))
        try:
            migrate.upgrade(engine)
            with engine.begin() as conn:
                intent(conn, "tiktok:1", minutes[0])
                delivered(conn, "tiktok:1", minutes[1], job_id=1)  # recorded: counts once
                intent(conn, "tiktok:2", minutes[2])  # in flight
                intent(conn, "tiktok:3", minutes[3])  # the asking post's own
                intent(conn, "tiktok:4", minutes[3], destination="other")
                intent(conn, "digest:9", minutes[4])  # a digest counts by its deliveries
                delivered(conn, "tiktok:5", minutes[5], job_id=9)
                delivered(conn, "tiktok:6", minutes[5], job_id=9)
            with engine.connect() as conn:
                found = sql.sends_since(conn, "main", NOW, other_than="tiktok:3")
                assert found == [minutes[1], minutes[2], minutes[5]]
                later = sql.sends_since(conn, "main", minutes[2])
                assert later == [minutes[2], minutes[3], minutes[5]]
        finally:
            engine.dispose()
