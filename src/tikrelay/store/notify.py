"""PostgreSQL LISTEN: wake workers the moment a job is enqueued anywhere."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import structlog
from sqlalchemy import Engine

from tikrelay.store.queue import NOTIFY_CHANNEL

log = structlog.get_logger("tikrelay.jobs")


def listen(engine: Engine, on_notify: Callable[[], None], stop: threading.Event) -> None:
    """Block (run it in a thread) calling ``on_notify`` per notification until ``stop`` is set.
    A lost connection only costs promptness: workers still poll, so it is logged and retried."""
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                while not stop.is_set():
                    for _ in conn.notifies(timeout=0.5):
                        on_notify()
        except psycopg.OperationalError as exc:
            log.warning("listen_failed", error=str(exc).splitlines()[0])
            stop.wait(1.0)
