"""``tikrelay web`` stopped by SIGTERM while a browser follows a job live: the open
Server-Sent Events stream ends at once and the command exits 0 well within the ten seconds
uvicorn's graceful shutdown would otherwise wait for it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.web.test_web_command import environment
from tests.support.web import AUTH, TOKEN
from tests.support.web.lines import start_line
from tikrelay.web.server import SHUTDOWN_GRACE_SECONDS


def test_sigterm_ends_open_streams_and_the_command(tmp_path: Path) -> None:
    config = tmp_path / "tikrelay.yaml"
    config.write_text(f'state_dir: {tmp_path / "state"}\nweb:\n  listen: "127.0.0.1:0"\n')
    command = [sys.executable, "-m", "tikrelay"]
    subprocess.run(
        [*command, "destinations", "add", "clips", "-100123", "--config", str(config)],
        env=environment(),
        check=True,
        capture_output=True,
        timeout=60,
    )
    proc = subprocess.Popen(
        [*command, "web", "--config", str(config)],
        env=environment(TIKRELAY_WEB_TOKEN=TOKEN),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, url = start_line(proc)
        with httpx.Client(base_url=url, timeout=30, headers=AUTH) as web:
            added = web.post("/api/sources", json={"tiktok": "@alice", "to": ["clips"]})
            assert added.status_code == 201, added.text
            job_id = added.json()["poll"]["job_id"]  # waits: no worker under tikrelay web
            with web.stream("GET", f"/api/jobs/{job_id}/events") as stream:
                lines = stream.iter_lines()
                while next(lines) != "event: job":
                    pass
                began = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                rest = list(lines)  # ends when the server closes it
            assert "event: end" not in rest  # cut by the stop, not finished
            out, err = proc.communicate(timeout=SHUTDOWN_GRACE_SECONDS)
            assert time.monotonic() - began < SHUTDOWN_GRACE_SECONDS / 2
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out.rstrip().endswith("stopped")
