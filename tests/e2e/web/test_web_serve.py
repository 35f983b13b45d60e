"""``tikrelay serve`` with ``web.listen`` written: the web server runs beside the workers in the
same process, is ready once a worker beats, steers jobs the workers then run, and stops with
the rest on SIGTERM (exit 0)."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta

import httpx

from tests.support.processes import running
from tests.support.relayed import Relayed
from tests.support.web import AUTH, TOKEN
from tests.support.web.lines import start_line
from tikrelay.config import load_settings
from tikrelay.store import JobQueue, NewJob, open_engine


def waiting_job(relayed: Relayed) -> int:
    """A housekeeping job due in an hour, written as another process would."""
    engine = open_engine(load_settings(relayed.config))
    try:
        later = datetime.now(UTC) + timedelta(hours=1)
        new = NewJob(kind="prune_jobs", payload={}, max_attempts=1, run_at=later)
        return JobQueue(engine).enqueue(new).job.id
    finally:
        engine.dispose()


def test_serve_runs_the_web_beside_the_workers(relayed: Relayed) -> None:
    relayed.extra = {"bot": {"enabled": False}, "web": {"listen": "127.0.0.1:0"}}
    relayed.env = {"TIKRELAY_WEB_TOKEN": TOKEN}
    with running(relayed, "serve") as proc:
        line, url = start_line(proc)
        with httpx.Client(base_url=url, timeout=30) as web:
            deadline = time.monotonic() + 30
            while (ready := web.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, ready.text
                time.sleep(0.05)  # the worker registers right after the start line
            assert ready.json()["checks"]["workers"] == "1 alive"
            assert web.get("/api/jobs").status_code == 401
            job_id = waiting_job(relayed)
            listed = web.get("/api/jobs", headers=AUTH, params={"status": "PENDING"})
            assert [job["id"] for job in listed.json()["jobs"]] == [job_id]
            retried = web.post(f"/api/jobs/{job_id}/retry", headers=AUTH)
            assert retried.json()["job"]["status"] == "QUEUED"
            deadline = time.monotonic() + 30
            while (job := web.get(f"/api/jobs/{job_id}", headers=AUTH)).json()[
                "status"
            ] != "COMPLETED":  # the worker beside it runs it now, not in an hour
                assert time.monotonic() < deadline, job.text
                time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert line == f"serving 0 sources and the web at {url}; Ctrl-C stops"
    assert out.rstrip().endswith("stopped")
    assert TOKEN not in out + err
