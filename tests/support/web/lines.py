"""The start line a long-running ``tikrelay`` command prints, and the address in it."""

from __future__ import annotations

import re
import selectors
import subprocess
import time

URL = re.compile(r"http://\S+?(?=[;\s]|$)")


def start_line(proc: subprocess.Popen[str], seconds: float = 60) -> tuple[str, str]:
    """The first stdout line that names an address (the start line) and that address, within
    ``seconds``: the socket is listening by then, so requests wait in its backlog."""
    assert proc.stdout is not None
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                break
            line = proc.stdout.readline()
            assert line, f"the command ended: {proc.communicate()}"
            found = URL.search(line)
            if found:
                return line.strip(), found.group(0)
    raise AssertionError("the command printed no address in time")
