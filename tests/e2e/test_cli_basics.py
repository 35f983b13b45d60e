"""The installed ``tikrelay`` command starts and answers --help and --version."""

from __future__ import annotations

import subprocess
import sys

from tikrelay import __version__


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tikrelay", *args], capture_output=True, text=True, timeout=60
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"tikrelay {__version__}"


def test_help_lists_the_tool() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "Telegram" in result.stdout
