"""PostgreSQL LISTEN: wake workers the moment a job is enqueued anywhere."""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable

import structlog
from sqlalchemy import Engine

from tikrelay.store.queue import NOTIFY_CHANNEL

log = structlog.get_logger("tikrelay.jobs")

#: How long a lost connection waits before reconnecting.
RECONNECT_SECONDS = 1.0


class Listener:
    """``run()`` blocks (run it in a thread) calling ``on_notify`` per notification until
    ``stop()``, which ends it at once: a stopping worker does not wait out a poll interval.
    A lost connection only costs promptness: workers still poll, so it is logged and retried."""

    def __init__(self, engine: Engine, on_notify: Callable[[], None]) -> None:
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._on_notify = on_notify
        self._stopped = threading.Event()
        # A byte on this pipe interrupts the select() the listening thread sleeps in.
        self._wake_read, self._wake_write = os.pipe()

    def stop(self) -> None:
        """Call once; the listening thread closes the read end when it leaves."""
        self._stopped.set()
        os.write(self._wake_write, b"x")
        os.close(self._wake_write)

    def run(self) -> None:
        import psycopg  # only PostgreSQL workers listen: SQLite runs never load the driver

        try:
            while not self._stopped.is_set():
                try:
                    self._listen()
                except psycopg.OperationalError as exc:
                    log.warning("listen_failed", error=str(exc).splitlines()[0])
                    self._stopped.wait(RECONNECT_SECONDS)
        finally:
            os.close(self._wake_read)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(self._url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            while not self._stopped.is_set():
                ready, _, _ = select.select([conn.fileno(), self._wake_read], [], [])
                if conn.fileno() in ready:
                    # Readable: take what has arrived without waiting for more.
                    for _ in conn.notifies(timeout=0):
                        self._on_notify()
