"""The HEAD constant that lets starts skip Alembic matches the packaged migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from tests.support.jobs_db import BACKENDS, temporary_database
from tikrelay.store import migrate
from tikrelay.store.engine import create_db_engine
from tikrelay.store.tables import metadata


def test_head_constant_matches_the_versions_folder() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_current_head() == migrate.HEAD


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_build_exactly_the_declared_tables(backend: str, tmp_path: Path) -> None:
    """Alembic's own comparison finds nothing between the migrated schema and tables.py."""
    with temporary_database(backend, tmp_path) as url:
        engine = create_db_engine(make_url(url))
        try:
            migrate.upgrade(engine)
            with engine.connect() as conn:
                context = MigrationContext.configure(conn)
                differences = compare_metadata(context, metadata)
        finally:
            engine.dispose()
    assert differences == []
