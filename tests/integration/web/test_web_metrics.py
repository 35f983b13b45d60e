"""``/metrics`` is read from the database at scrape time: jobs run by the real worker (and a fresh
app that saw none of it) show up in the exposition text under the contract's names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import insert

from tests.support.web import AUTH, TOKEN
from tests.support.web.kinds import RETRY_AFTER, drain
from tikrelay.domain.jobs import JobStatus
from tikrelay.runtime.app import Runtime
from tikrelay.store import relay as sql
from tikrelay.store.tables import catalog_sources
from tikrelay.store.tallies_sql import DURATION_BUCKETS
from tikrelay.web.app import create_app


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def families(text: str) -> dict[str, str]:
    return {family.name: family.type for family in text_string_to_metric_families(text)}


async def scrape(runtime: Runtime) -> str:
    """From an app made now: nothing is counted in a process, it is all in the database."""
    transport = httpx.ASGITransport(app=create_app(runtime, SecretStr(TOKEN)))
    async with httpx.AsyncClient(transport=transport, base_url="http://web", headers=AUTH) as web:
        answer = await web.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


def enqueue_work(runtime: Runtime) -> dict[str, Any]:
    service = runtime.service
    for n in range(3):
        service.enqueue("send", {"post": f"tiktok:{n}", "destination": "clips"})
    service.enqueue("send", {"post": "tiktok:0", "destination": "vault"})
    service.enqueue("refused", {})
    service.enqueue("limited", {})
    return {"waiting": service.enqueue("greet", {}, delay=3600).job.id}


async def test_the_figures_of_jobs_run_by_the_worker(runtime: Runtime) -> None:
    enqueue_work(runtime)
    before = samples(await scrape(runtime))
    assert before[("tikrelay_jobs", (("kind", "send"), ("status", "QUEUED")))] == 4
    assert before[("tikrelay_jobs", (("kind", "send"), ("status", "COMPLETED")))] == 0
    await drain(runtime)
    text = await scrape(runtime)
    found = samples(text)
    assert families(text) == {
        "tikrelay_jobs": "gauge",
        "tikrelay_deliveries": "counter",
        "tikrelay_failures": "counter",
        "tikrelay_telegram_retry_after_seconds": "counter",
        "tikrelay_job_duration_seconds": "histogram",
        "tikrelay_stage_duration_seconds": "histogram",
        "tikrelay_downloaded_bytes": "counter",
        "tikrelay_uploaded_bytes": "counter",
        "tikrelay_poll_duration_seconds": "gauge",
        "tikrelay_poll_age_seconds": "gauge",
        "tikrelay_ytdlp_info": "gauge",  # an info metric, as the text format writes it
    }
    jobs = {
        (dict(labels)["kind"], dict(labels)["status"]): value
        for (name, labels), value in found.items()
        if name == "tikrelay_jobs" and value
    }
    assert jobs == {
        ("send", JobStatus.COMPLETED): 4,
        ("refused", JobStatus.FAILED): 1,
        ("limited", JobStatus.COMPLETED): 1,
        ("greet", JobStatus.PENDING): 1,
    }
    assert found[("tikrelay_deliveries_total", (("destination", "clips"),))] == 3
    assert found[("tikrelay_deliveries_total", (("destination", "vault"),))] == 1
    assert found[("tikrelay_failures_total", (("kind", "deleted"),))] == 1
    waited = found[("tikrelay_telegram_retry_after_seconds_total", ())]
    assert waited == pytest.approx(RETRY_AFTER, abs=0.05)
    version = [labels for name, labels in found if name == "tikrelay_ytdlp_info"]
    assert len(version) == 1
    assert dict(version[0])["version"]


async def test_the_duration_histogram(runtime: Runtime) -> None:
    enqueue_work(runtime)
    await drain(runtime)
    found = samples(await scrape(runtime))
    send = (("kind", "send"),)
    assert found[("tikrelay_job_duration_seconds_count", send)] == 4
    buckets = [
        found[("tikrelay_job_duration_seconds_bucket", (("kind", "send"), ("le", str(b))))]
        for b in DURATION_BUCKETS
    ]
    assert buckets == sorted(buckets)  # cumulative
    assert buckets[-1] == 4  # no test job takes half an hour
    assert found[("tikrelay_job_duration_seconds_bucket", (("kind", "send"), ("le", "+Inf")))] == 4
    assert 0 <= found[("tikrelay_job_duration_seconds_sum", send)] < 4 * DURATION_BUCKETS[-1]
    assert ("tikrelay_job_duration_seconds_count", (("kind", "greet"),)) not in found  # waiting


async def test_poll_figures_only_for_sources_still_watched(runtime: Runtime) -> None:
    """A paused or removed source is polled no more: its poll age would only grow, so it is not
    reported."""
    now = datetime.now(UTC)
    with runtime.queue.transaction() as conn:
        for name, paused in (("watched", False), ("paused", True), ("removed", None)):
            key = f"tiktok:@{name}"
            row = sql.ensure_source(conn, key, "tiktok", name, now)
            sql.record_listing(conn, row.id, [f"tiktok:{name}"], now, 0.5)
            if paused is not None:
                conn.execute(
                    insert(catalog_sources).values(
                        key=key,
                        origin="cli",
                        paused=paused,
                        settings={"tiktok": f"@{name}", "to": ["clips"]},
                        created_at=now,
                        updated_at=now,
                    )
                )
    found = samples(await scrape(runtime))
    ages = {
        labels: value
        for (name, labels), value in found.items()
        if name == "tikrelay_poll_age_seconds"
    }
    assert list(ages) == [(("source", "tiktok:@watched"),)]
    took = [labels for (name, labels) in found if name == "tikrelay_poll_duration_seconds"]
    assert took == [(("source", "tiktok:@watched"),)]
