"""The ``database`` check: the database answers and its schema revision is one this tikrelay
knows. It only reads: a database that is not there yet is left for the next run to create."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tikrelay.config.settings import Settings
from tikrelay.health.files import shared_note
from tikrelay.health.limits import NETWORK_TIMEOUT
from tikrelay.health.report import Check, failed, passed
from tikrelay.health.threads import in_daemon_thread


async def check_database(settings: Settings) -> Check:
    """:func:`inspect_database` within the time limit (a driver may block on a dead server)."""
    try:
        return await asyncio.wait_for(
            in_daemon_thread(lambda: inspect_database(settings)), NETWORK_TIMEOUT
        )
    except TimeoutError:
        return failed(
            "database",
            f"no answer within {NETWORK_TIMEOUT:g} s: check that the server in database_url runs",
        )


def inspect_database(settings: Settings) -> Check:
    """Reachable, and at which schema revision; an SQLite file that is not there yet is fine."""
    from sqlalchemy.exc import SQLAlchemyError

    from tikrelay.store import DatabaseError, open_engine
    from tikrelay.store.engine import database_url
    from tikrelay.store.migrate import HEAD, current_revision

    sqlite = sqlite_file(settings)
    if sqlite is not None and not sqlite.exists():
        return passed("database", f"{sqlite} does not exist yet; it is created on the next run")
    try:  # without prepare: a check changes no mode, the next run does
        engine = open_engine(settings, upgrade=False, pool_size=1, prepare=False)
    except DatabaseError as exc:
        return failed("database", str(exc))
    except SQLAlchemyError as exc:  # e.g. a file that is not an SQLite database
        return failed("database", f"database_url: cannot be opened: {exc}")
    shown = database_url(settings, prepare=False).render_as_string(hide_password=True)
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        return failed("database", f"database_url: reading the schema revision failed: {exc}")
    finally:
        engine.dispose()
    notes = shared_note(sqlite)
    if revision is None:
        return passed(
            "database", f"{shown} is empty; its tables are created on the next run", notes
        )
    if revision == HEAD:
        return passed("database", f"{shown}, schema at revision {HEAD} (current)", notes)
    if revision in known_revisions():
        return passed(
            "database",
            f"{shown}, schema at revision {revision}: it will be upgraded to {HEAD} "
            "on the next run",
            notes,
        )
    return failed(
        "database",
        f"{shown} has schema revision {revision}, newer than this tikrelay knows ({HEAD}): "
        "upgrade tikrelay, or point database_url at another database",
    )


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file the settings name (the default one without ``database_url``), if any."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from tikrelay.config.paths import StatePaths

    if settings.database_url is None:
        return StatePaths(settings.state_dir).database_file
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        return None  # opening it reports the bad URL
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from tikrelay.store.migrate import alembic_config

    return {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
