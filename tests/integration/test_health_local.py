"""The health checks that look at this machine (database, state folder, ffmpeg, cookies), called
as the bot and the web call them: a function in, a typed ``Check`` out."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from tikrelay.config import Settings
from tikrelay.health import (
    Check,
    Status,
    check_cookies,
    check_ffmpeg,
    check_state_folder,
    inspect_database,
)
from tikrelay.store import open_engine
from tikrelay.store.migrate import HEAD


async def test_the_bundled_ffmpeg_passes_with_its_version() -> None:
    found = await check_ffmpeg(None)

    assert found.status is Status.PASSED
    assert found.name == "ffmpeg"
    assert "(ffmpeg version " in found.detail


async def test_an_ffmpeg_that_fails_to_run_is_named_with_the_fix(tmp_path: Path) -> None:
    broken = tmp_path / "ffmpeg"
    broken.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    broken.chmod(0o700)

    found = await check_ffmpeg(str(broken))

    assert found.status is Status.FAILED
    assert found.problems == (
        f"{broken} -version exited with status 3: set ffmpeg: to a working binary, or remove "
        "the key to use the bundled one",
    )


def test_the_cookies_check(tmp_path: Path) -> None:
    cookies = tmp_path / "cookies.txt"
    [problem] = check_cookies(cookies).problems
    assert problem.startswith(f"network.cookies_file {cookies} does not exist: export")

    cookies.write_text("# Netscape HTTP Cookie File\n", encoding="utf-8")
    cookies.chmod(0o644)
    assert check_cookies(cookies).problems == (
        f"network.cookies_file {cookies} is readable by other users: run `chmod 600 {cookies}`",
    )

    cookies.chmod(0o600)
    assert check_cookies(cookies) == Check(
        "cookies", detail=f"{cookies} exists and only its owner may read it"
    )


def test_the_database_check_reads_the_schema_revision(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    missing = inspect_database(settings)
    assert missing.ok
    assert missing.detail.endswith("does not exist yet; it is created on the next run")
    assert not (tmp_path / "state").exists()

    engine = open_engine(settings)
    try:
        current = inspect_database(settings)
        assert current.detail.endswith(f"schema at revision {HEAD} (current)")
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
        behind = inspect_database(settings)
        assert behind.ok
        assert behind.detail.endswith(f"will be upgraded to {HEAD} on the next run")
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        ahead = inspect_database(settings)
        assert not ahead.ok
        assert "newer than this tikrelay knows" in ahead.problems[0]
    finally:
        engine.dispose()


def test_the_state_folder_check(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    assert check_state_folder(tmp_path) == Check("state folder", detail=f"{tmp_path} is writable")
    later = check_state_folder(tmp_path / "a" / "b")
    assert later.ok
    assert "created on the next run" in later.detail
    occupied = tmp_path / "file"
    occupied.write_text("", encoding="utf-8")
    [problem] = check_state_folder(occupied).problems
    assert problem == (
        f"state_dir {occupied} is a file: move it away, or point state_dir at a folder you own"
    )
    [problem] = check_state_folder(occupied / "state").problems
    assert problem.startswith(f"state_dir {occupied / 'state'} cannot be created: {occupied} is")


def test_the_state_folder_check_notes_a_folder_others_may_read_and_changes_nothing(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "state"
    shared.mkdir()
    shared.chmod(0o755)

    found = check_state_folder(shared)

    assert found.ok
    assert found.notes == (
        f"other users may read {shared} (mode 0755); the next run makes it private",
    )
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755


def test_the_database_check_notes_a_shared_file_and_leaves_the_modes_alone(
    tmp_path: Path,
) -> None:
    settings = Settings(state_dir=tmp_path / "state")
    open_engine(settings).dispose()
    state, database = tmp_path / "state", tmp_path / "state" / "tikrelay.sqlite3"
    state.chmod(0o755)
    database.chmod(0o644)

    found = inspect_database(settings)

    assert found.ok
    assert found.notes == (
        f"other users may read {database} (mode 0644); the next run makes it private",
    )
    assert stat.S_IMODE(state.stat().st_mode) == 0o755
    assert stat.S_IMODE(database.stat().st_mode) == 0o644
