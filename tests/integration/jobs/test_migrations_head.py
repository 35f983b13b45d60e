"""The HEAD constant that lets starts skip Alembic matches the packaged migrations."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from tikrelay.store import migrate


def test_head_constant_matches_the_versions_folder() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_current_head() == migrate.HEAD
