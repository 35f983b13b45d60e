"""Incidents in a real SQLite database (migrated to head): told at most once per incident, closed
once, and a later failure opens a new incident that may be told again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import make_url

from tikrelay.store import incidents_sql as sql
from tikrelay.store.engine import create_db_engine
from tikrelay.store.migrate import upgrade

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
KEY = "source:tiktok:@alice"


def test_an_incident_is_told_once_closed_once_and_opened_anew(tmp_path: Path) -> None:
    engine = create_db_engine(make_url(f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    upgrade(engine)
    with engine.begin() as conn:
        first = sql.record_failure(conn, KEY, "source", "tiktok:@alice", "network: reset", T0)
        assert (first.opened_at, first.notified_at, first.open) == (T0, None, True)
        later = T0 + timedelta(hours=2)
        again = sql.record_failure(conn, KEY, "auth", "tiktok:@alice", "auth: login", later)
        assert (again.opened_at, again.kind, again.detail) == (T0, "auth", "auth: login")
        assert sql.notify_once(conn, KEY, later) is True
        assert sql.notify_once(conn, KEY, later) is False  # once per incident
        assert [i.key for i in sql.open_incidents(conn)] == [KEY]
        closed = sql.close(conn, KEY, later + timedelta(hours=1))
        assert closed is not None
        assert closed.notified_at == later
        assert sql.close(conn, KEY, later + timedelta(hours=2)) is None  # closed once
        assert sql.open_incidents(conn) == []
        assert sql.notify_once(conn, KEY, later) is False  # a closed incident is not told
        reopened_at = T0 + timedelta(days=1)
        new = sql.record_failure(conn, KEY, "source", "tiktok:@alice", "http: 503", reopened_at)
        assert (new.opened_at, new.notified_at, new.closed_at) == (reopened_at, None, None)
        assert sql.notify_once(conn, KEY, reopened_at) is True
        assert sql.close(conn, "disk", reopened_at) is None  # none was open
    engine.dispose()
