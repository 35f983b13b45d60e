"""``/healthz`` and ``/readyz``: ready only with the database at the current revision and a
worker whose heartbeat is fresh; otherwise 503 with the reason."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import httpx
from sqlalchemy import text

from tikrelay.runtime.app import Runtime
from tikrelay.store.migrate import HEAD


async def test_healthz_answers_without_the_token(stranger: httpx.AsyncClient) -> None:
    answer = await stranger.get("/healthz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


async def test_not_ready_without_a_worker(stranger: httpx.AsyncClient) -> None:
    answer = await stranger.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["ready"] is False
    assert body["checks"] == {"database": "ok", "migrations": "ok", "workers": "0 alive"}
    assert body["reason"] == (
        "no worker has sent a heartbeat in the last 30 s: run tikrelay serve or tikrelay worker"
    )


async def test_ready_while_a_worker_beats_and_not_after(
    runtime: Runtime, stranger: httpx.AsyncClient
) -> None:
    queue = runtime.queue
    queue.register_worker("web-test-worker", socket.gethostname(), os.getpid())
    answer = await stranger.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "ready": True,
        "reason": None,
        "checks": {"database": "ok", "migrations": "ok", "workers": "1 alive"},
    }
    beat = queue.clock()
    queue.clock = lambda: beat + timedelta(seconds=31)  # one lease without a heartbeat
    assert (await stranger.get("/readyz")).status_code == 503


async def test_not_ready_with_an_old_schema(runtime: Runtime, stranger: httpx.AsyncClient) -> None:
    queue = runtime.queue
    queue.register_worker("web-test-worker", socket.gethostname(), os.getpid())
    with queue.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    answer = await stranger.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["checks"]["migrations"] == f"at 0001, {HEAD} needed"
    assert body["reason"] == f"the schema is at 0001, not {HEAD}: run tikrelay db upgrade"
