"""Engine creation for SQLite (WAL, one writer, BEGIN IMMEDIATE) and PostgreSQL (a pool)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import QueuePool

from tikrelay.config.paths import StateDirError, StatePaths, make_private
from tikrelay.config.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


class DatabaseError(Exception):
    """The database cannot be used as configured; the message names the key (``database_url``,
    or ``state_dir`` for the default SQLite file)."""


def database_url(settings: Settings, *, prepare: bool = True) -> URL:
    """``database_url`` if set, else the SQLite file in ``state_dir``; with ``prepare`` the
    state folder is created, or made private (``tikrelay doctor`` only looks)."""
    if settings.database_url is None:
        paths = StatePaths(settings.state_dir)
        if prepare:
            try:
                paths.ensure()
            except StateDirError as exc:
                raise DatabaseError(str(exc)) from None
        return URL.create("sqlite+pysqlite", database=str(paths.database_file.absolute()))
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        raise DatabaseError(
            "database_url: not a database URL; use sqlite:///path or "
            "postgresql+psycopg://user@host/db"
        ) from None
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise DatabaseError(
            f"database_url: {url.get_backend_name()!r} is not supported; use sqlite or postgresql"
        )
    return url


def _private_sqlite_file(url: URL) -> None:
    """Create the database file 0600 before SQLite does, which then gives its -wal and -shm
    files the same mode; take group and other bits off the three files when they exist."""
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        make_private(file, 0o600)
    # There already, or in a folder that is missing: then SQLite's own error says which.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_engine(url: URL) -> Engine:
    # One connection: SQLite has one writer anyway, and a single connection turns lock waits
    # between our own threads into queueing on the pool instead of SQLITE_BUSY errors.
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy so that we can say BEGIN IMMEDIATE ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a read-then-write transaction can then never fail
        # half-way with "database is locked" when another process committed in between.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: URL, pool_size: int) -> Engine:
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10},
    )


def create_db_engine(url: URL, *, pool_size: int = 5, prepare: bool = True) -> Engine:
    """Create the engine and check that the database answers; with ``prepare`` an SQLite file
    is created private to the user, or made so."""
    if prepare and url.get_backend_name() == "sqlite":
        _private_sqlite_file(url)
    try:
        engine = (
            _sqlite_engine(url)
            if url.get_backend_name() == "sqlite"
            else _postgres_engine(url, pool_size)
        )
    except NoSuchModuleError as exc:
        raise DatabaseError(f"database_url: no driver for {url.drivername!r} ({exc})") from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        shown = url.render_as_string(hide_password=True)
        raise DatabaseError(f"database_url: cannot reach {shown}: {reason}") from None
    return engine
