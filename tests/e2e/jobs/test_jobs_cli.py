"""The real ``tikrelay`` command: db upgrade, jobs list/show/cancel/retry, clear errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.jobs_db import BACKENDS, temporary_database
from tikrelay.config import load_settings
from tikrelay.store import NewJob, open_queue
from tikrelay.store.migrate import HEAD


def tikrelay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tikrelay", *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(params=BACKENDS)
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    with temporary_database(request.param, tmp_path) as url:
        path = tmp_path / "tikrelay.yaml"
        path.write_text(f"state_dir: {tmp_path / 'state'}\ndatabase_url: '{url}'\n")
        yield path


def test_upgrade_list_show_cancel_retry(config: Path) -> None:
    first = tikrelay("db", "upgrade", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert f"upgraded to {HEAD}" in first.stdout
    assert f"already at {HEAD}" in tikrelay("db", "upgrade", "--config", str(config)).stdout
    queue = open_queue(load_settings(config))
    job = queue.enqueue(NewJob(kind="noop", payload={"greeting": "hej"}, max_attempts=2)).job
    listed = tikrelay("jobs", "list", "--status", "queued", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    assert f"{job.id}" in listed.stdout
    assert "QUEUED" in listed.stdout
    cancelled = tikrelay("jobs", "cancel", str(job.id), "--config", str(config))
    assert cancelled.stdout.strip() == f"job {job.id} cancelled"
    again = tikrelay("jobs", "cancel", str(job.id), "--config", str(config))
    assert again.returncode == 1
    assert "CANCELLED already" in again.stderr
    retried = tikrelay("jobs", "retry", str(job.id), "--config", str(config))
    assert retried.stdout.strip() == f"job {job.id} will run again as job {job.id + 1}"
    shown = tikrelay("jobs", "show", str(job.id), "--config", str(config))
    assert shown.returncode == 0
    timeline = [line.split()[2] for line in shown.stdout.splitlines() if line.startswith("  ")]
    assert timeline == ["JOB_CREATED", "STATUS_CHANGED", "JOB_CANCELLED", "RETRY_REQUESTED"]
    assert '{"greeting": "hej"}' in shown.stdout
    queue.engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "database_url: not a database URL"),
        ("mysql://x@127.0.0.1/db", "database_url: 'mysql' is not supported"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/none", "database_url: cannot reach"),
    ],
)
def test_bad_database_url_is_one_line_naming_the_key(
    tmp_path: Path, url: str, message: str
) -> None:
    config = tmp_path / "tikrelay.yaml"
    config.write_text(f"state_dir: {tmp_path}\ndatabase_url: '{url}'\n")
    for command in (["db", "upgrade"], ["jobs", "list"]):
        result = tikrelay(*command, "--config", str(config))
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1
        assert message in result.stderr
