"""The reposter's SQL on both databases: what a source listed, intents, and 'all sent'."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
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
