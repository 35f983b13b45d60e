"""A long-running ``tikrelay`` command (``serve``, ``bot``) beside a test, and waiting for what
it should bring about."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.support.relayed import TOKEN, Relayed


def wait_until(condition: Callable[[], bool], seconds: float, proc: subprocess.Popen[str]) -> None:
    """Wait for ``condition`` (checked every 0.1 s) while the command runs."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command did not get there in time"
        time.sleep(0.1)


def wait_for(condition: Callable[[], bool], seconds: float) -> None:
    """Wait for ``condition`` (checked every 0.1 s) while no command runs: what the emulators
    do on their own, such as Telegram re-sending to a webhook nobody answers."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the emulators did not get there in time"
        time.sleep(0.1)


@contextmanager
def running(relayed: Relayed, command: str) -> Iterator[subprocess.Popen[str]]:
    """``tikrelay COMMAND --config …`` with the token in its environment; SIGTERM at the end
    unless the test stopped it itself."""
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PTB_TIMEDELTA": "1", **relayed.env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tikrelay", command, "--config", str(relayed.config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def running_bot(relayed: Relayed) -> contextlib.AbstractContextManager[subprocess.Popen[str]]:
    """``tikrelay bot``, as :func:`running`."""
    return running(relayed, "bot")
