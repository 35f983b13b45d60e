"""Apply the packaged Alembic migrations programmatically, once even with many starters.

Alembic is imported only when the schema is behind: a start with an up-to-date schema (the
common case for every worker and CLI call) costs one small query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest revision in ``migrations/versions``; a test keeps the two in step.
HEAD = "0011"
# Any constant works; it only has to be the same for every process migrating this database.
_MIGRATION_LOCK = 0x7469_6B72  # "tikr"


def head_revision() -> str:
    return HEAD


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> bool:
    """Bring the schema to head; True when something was applied."""
    if current_revision(engine) == HEAD:
        return False
    from alembic import command

    config = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several workers may start at once; the first migrates, the others then see head.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return True


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "tikrelay.store:migrations")
    return config
