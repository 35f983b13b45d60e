"""Named locks held across processes: one sender per Telegram chat, whatever the number of
workers. PostgreSQL: a session advisory lock (workers on many machines share it). SQLite (one
machine): an exclusive file lock next to the database."""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text


def _key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def held(engine: Engine, name: str, folder: Path) -> Iterator[None]:
    """Block until the lock ``name`` is ours; release it when the block ends (or the process
    dies: both kinds of lock go with their connection or file descriptor)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _key(name)})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})
                conn.commit()
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(name.encode()).hexdigest()[:24]}.lock"
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def for_transaction(conn: Connection, name: str) -> None:
    """Hold the lock ``name`` until ``conn``'s transaction ends. PostgreSQL: a
    transaction-scoped advisory lock; SQLite needs none (``BEGIN IMMEDIATE`` already holds the
    one write lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _key(name)})
