"""The state folder and the SQLite files in it are private to their owner, on real files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from tikrelay.config import Settings
from tikrelay.config.paths import StateDirError, StatePaths
from tikrelay.store import DatabaseError, open_engine


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """Files and folders come out 0644 and 0755 unless tikrelay sees to it."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("loose_umask")
def test_a_new_database_and_its_wal_files_are_0600(tmp_path: Path) -> None:
    state = tmp_path / "a" / "state"
    engine = open_engine(Settings(state_dir=state))
    try:
        with engine.begin() as conn:  # a write, so that SQLite has its -wal and -shm open
            conn.execute(text("CREATE TABLE probe (x INTEGER)"))
        files = sorted(p.name for p in state.iterdir())
        assert files == ["tikrelay.sqlite3", "tikrelay.sqlite3-shm", "tikrelay.sqlite3-wal"]
        assert {name: mode(state / name) for name in files} == dict.fromkeys(files, 0o600)
        assert mode(state) == 0o700
    finally:
        engine.dispose()


@pytest.mark.usefixtures("loose_umask")
def test_an_existing_folder_and_database_of_ours_are_made_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    database = state / "tikrelay.sqlite3"
    engine = open_engine(Settings(state_dir=state))
    engine.dispose()
    state.chmod(0o755)
    database.chmod(0o644)
    (state / "tikrelay.sqlite3-wal").write_bytes(b"")
    (state / "tikrelay.sqlite3-wal").chmod(0o664)

    engine = open_engine(Settings(state_dir=state))
    try:
        assert mode(state) == 0o700
        assert mode(database) == 0o600
    finally:
        engine.dispose()


@pytest.mark.usefixtures("loose_umask")
def test_a_sqlite_url_file_is_created_0600(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere.db"
    engine = open_engine(Settings(database_url=f"sqlite:///{database}"))
    engine.dispose()
    assert mode(database) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a folder to another user")
def test_a_folder_of_another_user_is_left_alone_with_a_warning(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o777)
    state.chmod(0o777)
    os.chown(state, 12345, 12345)

    with capture_logs() as logs:
        StatePaths(state).ensure()

    assert mode(state) == 0o777
    [warning] = [entry for entry in logs if entry["event"] == "not_private"]
    assert warning["log_level"] == "warning"
    assert warning["path"] == str(state)
    assert warning["problem"] == "it belongs to another user"
    assert f"chmod go-rwx {state}" in warning["fix"]


def test_an_unusable_state_dir_is_a_database_error_that_names_state_dir(tmp_path: Path) -> None:
    occupied = tmp_path / "state"
    occupied.write_text("", encoding="utf-8")
    with pytest.raises(StateDirError, match=r"^state_dir .* is a file: move it away"):
        StatePaths(occupied).ensure()
    with pytest.raises(DatabaseError, match=r"^state_dir .* is a file: move it away"):
        open_engine(Settings(state_dir=occupied))


def test_a_sqlite_url_under_a_file_is_a_database_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(DatabaseError, match=r"^database_url: cannot reach .*unable to open"):
        open_engine(Settings(database_url=f"sqlite:///{blocker / 'x.db'}"))
