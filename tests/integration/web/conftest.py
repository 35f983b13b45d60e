"""The web app in-process over a real runtime: a state folder with SQLite, or a fresh database on
the machine's PostgreSQL server; the test job kinds registered beside the engine's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.support.jobs_db import BACKENDS, temporary_database
from tests.support.web import AUTH, TOKEN
from tests.support.web.browser import Clock, cookieless
from tests.support.web.kinds import kinds
from tikrelay.config import load_settings
from tikrelay.runtime.app import Runtime
from tikrelay.web.app import create_app


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None  # the default: the SQLite file in the state folder
        return
    with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def runtime(tmp_path: Path, database_url: str | None) -> Iterator[Runtime]:
    settings = load_settings(
        None,
        state_dir=str(tmp_path / "state"),
        database_url=database_url,
        jobs={"poll_interval_seconds": 0.05, "drain_wait_seconds": 5},
    )
    with Runtime.open(settings, reposter=False) as runtime:
        runtime.service.registry.include(kinds)
        yield runtime


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends the token."""
    app = create_app(runtime, SecretStr(TOKEN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web", headers=AUTH) as web:
        yield web


@pytest.fixture
async def stranger(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same app without the token."""
    app = create_app(runtime, SecretStr(TOKEN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        yield web


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def browser(runtime: Runtime, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    """A client without the token, as a browser comes to the login page."""
    async with cookieless(create_app(runtime, SecretStr(TOKEN), clock=clock)) as web:
        yield web
