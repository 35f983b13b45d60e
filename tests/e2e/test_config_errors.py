"""A bad config file meets the real ``tikrelay`` command: exit code 2 and one ``error:`` line that
names the key and the fix, never a traceback."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

TOKEN = "123456:CONFIG-ERRORS-TEST-TOKEN-0123456789"
ELSEWHERE = "or point state_dir at a folder you own"


def tikrelay(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TIKRELAY_") and k != "TELEGRAM_BOT_TOKEN"
    }
    return subprocess.run(
        [sys.executable, "-m", "tikrelay", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environment, **(env or {})},
    )


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a command that exited 2 for a configuration mistake."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


def config(folder: Path, text: str, mode: int = 0o644) -> Path:
    path = folder / "tikrelay.yaml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def run_once(path: Path) -> subprocess.CompletedProcess[str]:
    return tikrelay("run", "--once", "--config", str(path), env={"TELEGRAM_BOT_TOKEN": TOKEN})


# -- the state folder ------------------------------------------------------------------------------


def test_a_state_dir_that_is_a_file(tmp_path: Path) -> None:
    occupied = tmp_path / "state"
    occupied.write_text("", encoding="utf-8")
    path = config(tmp_path, f"state_dir: {occupied}\n")

    for result in (run_once(path), tikrelay("jobs", "list", "--config", str(path))):
        assert refused(result) == f"state_dir {occupied} is a file: move it away, {ELSEWHERE}"


def test_a_state_dir_that_is_a_file_with_postgresql_is_refused_at_start(tmp_path: Path) -> None:
    # With PostgreSQL nothing opens the state folder before the first download: the reposter
    # checks it at start, rather than failing every job with it.
    occupied = tmp_path / "state"
    occupied.write_text("", encoding="utf-8")
    path = config(
        tmp_path,
        f"state_dir: {occupied}\n"
        "database_url: postgresql+psycopg://nobody@127.0.0.1:1/none\n"
        "destinations: {clips: {telegram: {chat_id: -1001}}}\n"
        "sources: [{tiktok: '@alice', to: [clips]}]\n",
    )

    assert refused(run_once(path)) == f"state_dir {occupied} is a file: move it away, {ELSEWHERE}"


def test_a_state_dir_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    path = config(tmp_path, f"state_dir: {blocker / 'state'}\n")

    assert refused(run_once(path)) == (
        f"state_dir {blocker / 'state'} cannot be created: {blocker} is a file: move it away, "
        f"{ELSEWHERE}"
    )


def read_only_folder(tmp_path: Path) -> Path:
    """A folder this user cannot create anything in: a 0500 one, or for root (who may write
    everywhere) the kernel's /sys."""
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o500)
    if not os.access(folder, os.W_OK):
        return folder
    try:
        os.mkdir("/sys/tikrelay-probe")
    except OSError:
        return Path("/sys")
    os.rmdir("/sys/tikrelay-probe")
    pytest.skip("no folder here refuses this user")


def test_a_state_dir_that_cannot_be_created(tmp_path: Path) -> None:
    parent = read_only_folder(tmp_path)
    path = config(tmp_path, f"state_dir: {parent / 'tikrelay' / 'state'}\n")

    message = refused(run_once(path))

    assert message.startswith(f"state_dir {parent / 'tikrelay' / 'state'} cannot be created in ")
    assert message.endswith(f": create it yourself, {ELSEWHERE}")


def test_a_state_dir_made_by_hand_becomes_private_with_its_database(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)  # whatever the umask
    path = config(tmp_path, f"state_dir: {state}\n")

    result = tikrelay("jobs", "list", "--config", str(path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    database = state / "tikrelay.sqlite3"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


# -- the file and its values -----------------------------------------------------------------------


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "tikrelay.yaml"
    path.write_bytes(b"# r\xe9glages\nstate_dir: data\n")

    assert refused(run_once(path)) == (
        f"config file {path} is not UTF-8 (byte 0xe9 on line 1): save it as UTF-8"
    )


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://files.example/", "", "not a url"])
def test_an_api_url_that_is_not_http(tmp_path: Path, url: str) -> None:
    path = config(tmp_path, f"telegram:\n  api_url: {url!r}\n")

    message = refused(run_once(path))

    assert f"telegram.api_url: {url!r} is not a Bot API address" in message
    assert "write http:// or https:// and a host" in message


def test_bad_proxies_are_named_without_their_password(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        "network:\n  proxies: ['gopher://relay:hunter2@proxy:70', 'http://ok:3128', '::::']\n",
    )

    for command in ("run", "doctor"):
        args = ["--once"] if command == "run" else []
        result = tikrelay(command, *args, "--config", str(path), env={"TELEGRAM_BOT_TOKEN": TOKEN})
        message = refused(result)
        assert "network.proxies.0: 'gopher://relay:[redacted]@proxy:70': proxy scheme 'gopher'" in (
            message
        )
        assert "network.proxies.2: '::::' is not a proxy URL" in message
        assert "network.proxies.1" not in message
        assert "socks5" in message
        assert "hunter2" not in result.stdout + result.stderr
        assert result.stdout == ""


def test_an_ffmpeg_that_is_not_there(tmp_path: Path) -> None:
    path = config(tmp_path, "ffmpeg: /nonexistent/ffmpeg\n")

    message = refused(run_once(path))

    assert "ffmpeg: '/nonexistent/ffmpeg' is neither an executable file nor a command on PATH" in (
        message
    )
    assert "remove the key (and TIKRELAY_FFMPEG) to use the bundled ffmpeg" in message


def test_an_ffmpeg_variable_that_is_not_there_stops_doctor_too(tmp_path: Path) -> None:
    path = config(tmp_path, "{}\n")

    result = tikrelay("doctor", "--config", str(path), env={"TIKRELAY_FFMPEG": "no-such-ffmpeg"})

    assert "ffmpeg (or TIKRELAY_FFMPEG): 'no-such-ffmpeg'" in refused(result)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("delivery:\n  max_upload_mb: 1e308\n", "delivery.max_upload_mb: "),
        ("jobs:\n  lease_seconds: .inf\n", "jobs.lease_seconds: "),
        (
            "destinations: {d: {telegram: {chat_id: true}}}\n",
            "telegram.chat_id: true is not a chat",
        ),
        ("destinations: {d: {telegram: {chat_id: '@c', topic_id: yes}}}\n", "not a topic"),
    ],
)
def test_values_that_would_fail_later(tmp_path: Path, text: str, says: str) -> None:
    assert says in refused(run_once(config(tmp_path, text)))


def test_a_token_in_a_file_others_may_read(tmp_path: Path) -> None:
    state = tmp_path / "state"
    path = config(tmp_path, f"state_dir: {state}\ntelegram:\n  bot_token: '{TOKEN}'\n", 0o644)

    result = tikrelay("jobs", "list", "--config", str(path))

    assert refused(result) == (
        f"config file {path} holds telegram.bot_token and other users may read it (mode 0644): "
        f"run `chmod 600 {path}`, or better, remove the key and set TELEGRAM_BOT_TOKEN in the "
        "environment"
    )
    assert TOKEN not in result.stderr
    path.chmod(0o600)
    assert tikrelay("jobs", "list", "--config", str(path)).returncode == 0


# -- numbers on the command line -------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("jobs", "show", "99999999999999999999999"),
        ("jobs", "retry", "9223372036854775808"),
        ("jobs", "cancel", "0"),
        ("jobs", "list", "-n", "100000000000000000000"),
        ("worker", "--drain", "--concurrency", "100000000000000000000"),
    ],
)
def test_numbers_out_of_range_on_the_command_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    path = config(tmp_path, f"state_dir: {tmp_path / 'state'}\n")

    result = tikrelay(*args, "--config", str(path))

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "Invalid value for" in result.stderr
    assert not (tmp_path / "state").exists()  # refused before anything was opened


@pytest.mark.parametrize("option", ["--tiktok-port", "--telegram-port"])
def test_sandbox_ports_beyond_65535(tmp_path: Path, option: str) -> None:
    result = tikrelay("sandbox", "--once", "--state-dir", str(tmp_path / "s"), option, "70000")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "Invalid value for" in result.stderr
