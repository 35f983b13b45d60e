"""What a cron run costs the database: a creator whose feed is unchanged since the last poll
writes nothing but its poll time (and its poll job's own rows), and finished jobs go after
their retention, at the end of `run --once` and with `tikrelay cleanup`, without costing
exactly-once anything."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from tests.support.jobs_db import temporary_database
from tests.support.relayed import Relayed
from tikrelay.config import load_settings
from tikrelay.store import open_engine
from tikrelay.store.tables import deliveries, job_events, jobs, metadata, sources

#: The reposter's own tables: what a poll may write besides its job.
RELAY_TABLES = ("sources", "source_posts", "posts", "deliveries", "send_intents", "telegram_files")


@contextmanager
def engine_of(relayed: Relayed) -> Iterator[Engine]:
    engine = open_engine(load_settings(relayed.config))
    try:
        yield engine
    finally:
        engine.dispose()


def log_writes(engine: Engine) -> None:
    """Triggers that note every row written to the reposter's tables, by any process."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE write_log (tbl VARCHAR(40), op VARCHAR(10))")
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION log_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "INSERT INTO write_log VALUES (TG_TABLE_NAME, TG_OP); RETURN NULL; END $$"
            )
        for table in RELAY_TABLES:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    f"CREATE TRIGGER log_write AFTER INSERT OR UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION log_write()"
                )
                continue
            for op in ("INSERT", "UPDATE", "DELETE"):
                trigger = f"CREATE TRIGGER log_{table}_{op} AFTER {op} ON {table} BEGIN "
                logged = f"INSERT INTO write_log VALUES ('{table}', '{op}')"  # noqa: S608 - fixed names
                conn.exec_driver_sql(f"{trigger}{logged}; END")


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            table: sorted(map(tuple, conn.execute(select(metadata.tables[table]))), key=repr)
            for table in RELAY_TABLES
            if table != "sources"
        }


def poll_times(engine: Engine) -> dict[str, datetime]:
    with engine.connect() as conn:
        return {r.key: r.last_polled_at for r in conn.execute(select(sources))}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_unchanged_feed_writes_only_its_poll_time(relayed: Relayed, backend: str) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=2)
    world.add_creator("bob", videos=1)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}, {"tiktok": "@bob", "to": ["clips"]}]
    with temporary_database(backend, relayed.folder) as url:
        if backend == "postgres":
            relayed.extra = {"database_url": url}
        first = relayed.run()
        assert first.returncode == 0, first.stdout + first.stderr
        assert "3 new deliveries, 3 delivered" in first.stdout
        with engine_of(relayed) as engine:
            log_writes(engine)
            before, polled = snapshot(engine), poll_times(engine)

            second = relayed.run()
            assert second.returncode == 0, second.stdout + second.stderr
            assert "polled 2 of 2 sources: 0 new deliveries, 0 delivered" in second.stdout
            with engine.connect() as conn:
                writes = sorted(map(tuple, conn.exec_driver_sql("SELECT * FROM write_log")))
            assert writes == [("sources", "UPDATE")] * 2  # each source's poll time, nothing else
            assert snapshot(engine) == before
            after = poll_times(engine)
            assert all(after[key] > polled[key] for key in polled)
            # A poll's timeline, written with its outcome, in the order things happened.
            with engine.connect() as conn:
                newest = conn.execute(
                    select(jobs.c.id).where(jobs.c.kind == "poll").order_by(jobs.c.id.desc())
                ).scalar()
                timeline = conn.execute(
                    select(job_events.c.type, job_events.c.data)
                    .where(job_events.c.job_id == newest)
                    .order_by(job_events.c.id)
                ).all()
            assert [(t, d.get("to") or d.get("stage")) for t, d in timeline] == [
                ("JOB_CREATED", None),
                ("STATUS_CHANGED", "RUNNING"),
                ("STAGE_STARTED", "FEED_FETCH"),
                ("STAGE_FINISHED", "FEED_FETCH"),
                ("FEED_LISTED", None),
                ("STATUS_CHANGED", "COMPLETED"),
                ("POSTS_CHOSEN", None),
            ]
    assert len(telegram.messages(channel.id)) == 3


def age_every_job(engine: Engine, days: float) -> None:
    """As if every job so far had finished ``days`` ago."""
    then = datetime.now(UTC) - timedelta(days=days)
    with engine.begin() as conn:
        conn.execute(
            update(jobs).values(created_at=then, updated_at=then, finished_at=then, run_at=then)
        )
        conn.execute(update(job_events).values(at=then))


def job_ids(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(select(jobs.c.id)).scalars())


def test_cleanup_and_run_once_delete_jobs_past_their_retention(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=2)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}]
    config = str(relayed.config)
    first = relayed.run()
    assert first.returncode == 0, first.stdout + first.stderr
    with engine_of(relayed) as engine:
        ran = job_ids(engine)
        assert len(ran) == 3  # a poll and two deliveries
        with engine.connect() as conn:
            sent = {r.post_key: r.job_id for r in conn.execute(select(deliveries))}
        age_every_job(engine, 40)

        cleaned = relayed.run("cleanup", "--config", config)
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
        assert re.search(r"^jobs: 2 finished jobs and \d+ events deleted$", cleaned.stdout, re.M)
        assert job_ids(engine) == {max(ran)}  # the newest stays, so its id is never reused
        with engine.connect() as conn:
            events = conn.execute(select(job_events.c.job_id).distinct()).scalars()
            assert set(events) == {max(ran)}
            # The deliveries, the record of what was sent, stay with the ids of their jobs.
            assert {r.post_key: r.job_id for r in conn.execute(select(deliveries))} == sent
        gone = min(ran)
        shown = relayed.run("jobs", "show", str(gone), "--config", config)
        assert shown.returncode != 0
        assert "deleted after jobs.keep_days" in shown.stderr + shown.stdout

        # Nothing is sent twice with the jobs gone, and a new post still goes once.
        world.add_video("alice", desc="fresh")
        again = relayed.run()
        assert again.returncode == 0, again.stdout + again.stderr
        assert "1 new deliveries, 1 delivered" in again.stdout

        # `run --once` applies the retention at its end: only its own jobs are left.
        before = job_ids(engine)
        age_every_job(engine, 40)
        last = relayed.run()
        assert last.returncode == 0, last.stdout + last.stderr
        left = job_ids(engine)
        assert left
        assert not left & before
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 3
    captions = [m["caption"].split("\n")[0] for m in telegram.messages(channel.id)]
    assert captions == ["seeded video 1", "seeded video 2", "fresh"]
