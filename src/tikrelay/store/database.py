"""Open the configured database, migrated, with errors that name the ``database_url`` key."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from tikrelay.config.settings import Settings
from tikrelay.store import migrate
from tikrelay.store.engine import DatabaseError, create_db_engine, database_url
from tikrelay.store.queue import Clock, JobQueue, utc_now


def open_engine(
    settings: Settings, *, upgrade: bool = True, pool_size: int = 5, prepare: bool = True
) -> Engine:
    """Engine for ``database_url``; with ``upgrade`` the schema is brought to head first. With
    ``prepare`` (all but ``tikrelay doctor``) the state folder and an SQLite file are created,
    or made private to the user."""
    url = database_url(settings, prepare=prepare)
    engine = create_db_engine(url, pool_size=pool_size, prepare=prepare)
    if upgrade:
        try:
            migrate.upgrade(engine)
        except (OperationalError, ProgrammingError) as exc:
            engine.dispose()
            raise DatabaseError(f"database_url: migrating the schema failed: {exc.orig}") from None
    return engine


def open_queue(settings: Settings, *, clock: Clock = utc_now, pool_size: int = 5) -> JobQueue:
    engine = open_engine(settings, pool_size=pool_size)
    return JobQueue(engine, clock=clock, max_queue_length=settings.jobs.max_queue_length)
