"""``tikrelay web`` as a user runs it: the start line names the address, the probes answer
without the token and the API only with it, SIGTERM ends it with exit 0; without a token it
refuses to start, naming the variable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.web import AUTH, TOKEN
from tests.support.web.lines import start_line


def environment(**extra: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("TIKRELAY_")}
    return {**kept, **extra}


def config(folder: Path) -> Path:
    path = folder / "tikrelay.yaml"
    path.write_text(f'state_dir: {folder / "state"}\nweb:\n  listen: "127.0.0.1:0"\n')
    return path


def test_serves_the_api_until_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tikrelay", "web", "--config", str(config(tmp_path))],
        env=environment(TIKRELAY_WEB_TOKEN=TOKEN),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line, url = start_line(proc)
        assert line == f"web: listening on {url}; Ctrl-C stops"
        with httpx.Client(base_url=url, timeout=30) as web:
            assert web.get("/healthz").json() == {"status": "ok"}
            ready = web.get("/readyz")
            assert ready.status_code == 503  # no worker runs under tikrelay web alone
            assert "no worker" in ready.json()["reason"]
            assert web.get("/api/jobs").status_code == 401
            jobs = web.get("/api/jobs", headers=AUTH)
            assert (jobs.status_code, jobs.json()) == (200, {"jobs": [], "next_cursor": None})
            assert web.get("/metrics", headers=AUTH).text.startswith("# HELP")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.rstrip().endswith("stopped")
    assert TOKEN not in out + err


def test_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tikrelay", "web", "--config", str(config(tmp_path))],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: no web token: set TIKRELAY_WEB_TOKEN")
    assert "Traceback" not in result.stderr
