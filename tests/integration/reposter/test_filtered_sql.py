"""What the filters kept out, on both databases: the first decision stands, the run summary
counts this run's, the posts listing shows where each post went or why not, and the catalog's
sources keep their filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.jobs_db import BACKENDS, temporary_database
from tikrelay.config import load_settings
from tikrelay.reposter.catalog import Catalog, InvalidEntryError, Origin
from tikrelay.reposter.model import Routes
from tikrelay.store import filtered_sql, migrate, open_engine
from tikrelay.store import relay as sql
from tikrelay.store.engine import create_db_engine
from tikrelay.store.reports import post_lines, run_summary

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def post_row(key: str, seen: datetime, created: datetime | None = None) -> dict[str, object]:
    return {
        "key": key,
        "site": "tiktok",
        "native_id": key.split(":")[1],
        "kind": "video",
        "url": f"https://www.tiktok.com/@alice/video/{key.split(':')[1]}",
        "author": "alice",
        "created_at": created,
        "data": {"text": "clip"},
        "first_seen_at": seen,
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_decided_once_counted_and_listed(backend: str, tmp_path: Path) -> None:
    with temporary_database(backend, tmp_path) as url:
        engine = create_db_engine(make_url(url))
        try:
            migrate.upgrade(engine)
            with engine.begin() as conn:
                alice = sql.ensure_source(conn, "tiktok:@alice", "tiktok", "alice", NOW)
                bob = sql.ensure_source(conn, "tiktok:@bob", "tiktok", "bob", NOW)
                sql.record_listing(conn, alice.id, ["tiktok:1", "tiktok:2", "tiktok:3"], NOW)
                sql.record_listing(conn, bob.id, ["tiktok:9"], NOW)
                for number in (1, 2, 3, 9):
                    seen = NOW + timedelta(minutes=number)
                    sql.save_post(conn, post_row(f"tiktok:{number}", seen, NOW - timedelta(days=1)))

                def keep_out(post: str, destination: str, reason: str, at: datetime) -> None:
                    filtered_sql.record_filtered(
                        conn,
                        post_key=post,
                        destination=destination,
                        source="tiktok:@alice",
                        reason=reason,
                        job_id=None,
                        now=at,
                    )

                keep_out("tiktok:2", "main", "views 5 < min_views 10", NOW - timedelta(hours=1))
                # A second decision for the same post and destination changes nothing.
                keep_out("tiktok:2", "main", "something else", NOW)
                keep_out("tiktok:2", "fans", "views 5 < min_views 10", NOW)
                keep_out("tiktok:3", "main", 'has "#ad" (exclude)', NOW)
                sql.record_delivery(
                    conn,
                    post_key="tiktok:1",
                    destination="main",
                    chat_id="-100",
                    topic_id=None,
                    message_ids=[5],
                    job_id=None,
                    reconciled=False,
                    now=NOW,
                )
                sql.record_delivery(
                    conn,
                    post_key="tiktok:3",
                    destination="fans",
                    chat_id="-200",
                    topic_id=None,
                    message_ids=[6],
                    job_id=None,
                    reconciled=False,
                    now=NOW,
                )
                assert filtered_sql.filtered_reason(conn, "tiktok:2", "main") == (
                    "views 5 < min_views 10"
                )
                assert filtered_sql.filtered_reason(conn, "tiktok:1", "main") is None

            summary = run_summary(engine, NOW - timedelta(minutes=1), poll="poll", deliver=[])
            assert summary.filtered == 2  # the one decided an hour ago is another run's
            assert summary.ok

            everything = post_lines(engine)
            assert [line.key for line in everything] == [
                "tiktok:9",
                "tiktok:3",
                "tiktok:2",
                "tiktok:1",
            ]
            by_key = {line.key: line for line in everything}
            assert by_key["tiktok:1"].delivered == ["main"]
            assert by_key["tiktok:1"].filtered == {}
            assert by_key["tiktok:2"].filtered == {
                "main": "views 5 < min_views 10",
                "fans": "views 5 < min_views 10",
            }
            assert by_key["tiktok:3"].delivered == ["fans"]
            assert by_key["tiktok:3"].filtered == {"main": 'has "#ad" (exclude)'}
            assert by_key["tiktok:9"].author == "alice"
            assert by_key["tiktok:9"].at == NOW - timedelta(days=1)

            filtered = post_lines(engine, filtered=True)
            assert [line.key for line in filtered] == ["tiktok:3", "tiktok:2"]
            assert [line.key for line in post_lines(engine, filtered=True, limit=1)] == ["tiktok:3"]
            assert post_lines(engine, filtered=True, source="tiktok:@bob") == []
            assert [line.key for line in post_lines(engine, source="tiktok:@bob")] == ["tiktok:9"]
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_sources_of_the_catalog_keep_their_filters(backend: str, tmp_path: Path) -> None:
    """A source added elsewhere than the file (the command line, the web, the bot) is stored as
    the same settings: its filters come back, checked as the file's are."""
    with temporary_database(backend, tmp_path) as url:
        settings = load_settings(
            None,
            state_dir=str(tmp_path / "state"),
            database_url=url,
            destinations={"main": {"telegram": {"chat_id": "@main"}}},
        )
        engine = open_engine(settings)
        try:
            catalog = Catalog(engine)
            catalog.sync_from_settings(settings)
            rules = {"min_views": 1000, "kinds": ["video"], "exclude": ["#ad"]}
            catalog.add_source("@alice", ["main"], origin=Origin.WEB, filters=rules)
            with pytest.raises(InvalidEntryError, match=r"filters\.kinds\.0: 'gif' is not a kind"):
                catalog.add_source("@bob", ["main"], filters={"kinds": ["gif"]})
            routes = Routes(catalog.destinations(), catalog.sources())
            found = routes.filters_for("tiktok:@alice", "main")
            assert found is not None
            assert (found.min_views, found.kinds, found.exclude) == (1000, ["video"], ["#ad"])
            entry = catalog.source("tiktok:@alice")
            assert entry is not None
            assert entry.settings.filters == found
        finally:
            engine.dispose()
