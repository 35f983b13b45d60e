"""The storage contract fixtures: every test here runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.jobs_db import BACKENDS, FakeClock, temporary_database
from tikrelay.config import load_settings
from tikrelay.config.settings import Settings
from tikrelay.store import JobQueue, open_engine


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(None, state_dir=str(tmp_path / "state"), database_url=database_url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(settings: Settings, clock: FakeClock) -> Iterator[JobQueue]:
    engine = open_engine(settings)
    yield JobQueue(engine, clock=clock)
    engine.dispose()
