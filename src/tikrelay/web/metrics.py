"""``/metrics`` for Prometheus, computed from the database at every scrape by one collector in
the app's own registry: no in-process counters, so a freshly started ``tikrelay web`` reports
everything any process did, and several web processes report the same figures."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from sqlalchemy import Engine

from tikrelay.domain.jobs import JobStatus
from tikrelay.store.metrics_sql import MetricFigures, metric_figures
from tikrelay.store.tallies_sql import DURATION_BUCKETS, Histogram
from tikrelay.web.auth import require_auth
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.models import Problem


def ytdlp_version() -> str:
    """The installed yt-dlp's version, read from its package metadata: loading yt-dlp itself
    for one string would cost a second and more."""
    try:
        return version("yt-dlp")
    except PackageNotFoundError:
        return "unknown"


class DatabaseCollector:
    """The figures of ``store.metrics_sql``, as Prometheus metric families."""

    def __init__(self, engine: Engine, ytdlp: str) -> None:
        self.engine = engine
        self.ytdlp = ytdlp

    def collect(self) -> Iterator[Metric]:
        figures = metric_figures(self.engine, DURATION_BUCKETS)
        yield _jobs(figures)
        deliveries = CounterMetricFamily(
            "tikrelay_deliveries",
            "Posts delivered, by destination (each post once per destination).",
            labels=["destination"],
        )
        for destination, count in sorted(figures.deliveries.items()):
            deliveries.add_metric([destination], count)
        yield deliveries
        failures = CounterMetricFamily(
            "tikrelay_failures",
            "Jobs that failed for good, by error kind (within the jobs' retention).",
            labels=["kind"],
        )
        for kind, count in sorted(figures.failures.items()):
            failures.add_metric([kind], count)
        yield failures
        yield CounterMetricFamily(
            "tikrelay_telegram_retry_after_seconds",
            "Seconds of retries scheduled from Telegram's retry_after (429 Too Many Requests).",
            value=figures.retry_after_seconds,
        )
        yield _histogram(
            "tikrelay_job_duration_seconds",
            "Time of finished jobs' last attempt, claim to finish, by kind.",
            "kind",
            figures.durations,
        )
        yield _histogram(
            "tikrelay_stage_duration_seconds",
            "Time of each finished stage of a job (FEED_FETCH, DOWNLOAD, TELEGRAM_SEND, ...).",
            "stage",
            figures.stages,
        )
        yield from _bytes(figures)
        yield from _polls(figures, time.time())
        yield InfoMetricFamily(
            "tikrelay_ytdlp", "The yt-dlp in use.", value={"version": self.ytdlp}
        )


def _jobs(figures: MetricFigures) -> GaugeMetricFamily:
    """Every status of every kind seen, zeros included: an alert on FAILED needs a series."""
    gauge = GaugeMetricFamily(
        "tikrelay_jobs", "Jobs in the database, by status and kind.", labels=["status", "kind"]
    )
    for kind in sorted({kind for _, kind in figures.jobs}):
        for status in JobStatus:
            gauge.add_metric([status.value, kind], figures.jobs.get((status.value, kind), 0))
    return gauge


def _bytes(figures: MetricFigures) -> Iterator[Metric]:
    downloaded = CounterMetricFamily(
        "tikrelay_downloaded_bytes",
        "Bytes of media downloaded, by site (a file already in the media cache is not counted "
        "again).",
        labels=["site"],
    )
    for site, count in sorted(figures.bytes_downloaded.items()):
        downloaded.add_metric([site], count)
    yield downloaded
    uploaded = CounterMetricFamily(
        "tikrelay_uploaded_bytes",
        "Bytes of media uploaded, by destination (to Telegram, or to an archive); a file sent "
        "again by Telegram's file id is not counted.",
        labels=["destination"],
    )
    for destination, count in sorted(figures.bytes_uploaded.items()):
        uploaded.add_metric([destination], count)
    yield uploaded


def _polls(figures: MetricFigures, now: float) -> Iterator[Metric]:
    """Per source: how long its last successful poll took to read the feed, and how long ago
    that poll was (an alert on the age finds a source that stopped being read)."""
    took = GaugeMetricFamily(
        "tikrelay_poll_duration_seconds",
        "Seconds the last successful poll of each source took to read its feed.",
        labels=["source"],
    )
    age = GaugeMetricFamily(
        "tikrelay_poll_age_seconds",
        "Seconds since each source being watched (not paused) was last polled successfully.",
        labels=["source"],
    )
    for found in figures.polls:
        if found.last_poll_seconds is not None:
            took.add_metric([found.source], found.last_poll_seconds)
        if found.last_polled_at is not None:
            age.add_metric([found.source], max(0.0, now - found.last_polled_at.timestamp()))
    yield took
    yield age


def _histogram(
    name: str, documentation: str, label: str, found: Mapping[str, Histogram]
) -> HistogramMetricFamily:
    """Durations by ``label``, in the buckets of ``DURATION_BUCKETS``."""
    histogram = HistogramMetricFamily(name, documentation, labels=[label])
    for value, durations in sorted(found.items()):
        buckets = [
            (str(bound), float(n))
            for bound, n in zip(DURATION_BUCKETS, durations.within, strict=True)
        ]
        buckets.append(("+Inf", float(durations.count)))
        histogram.add_metric([value], buckets, durations.total)
    return histogram


def metrics_registry(engine: Engine) -> CollectorRegistry:
    """A registry of this app's own (the process-wide one holds nothing of ours)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(engine, ytdlp_version()))
    return registry


router = APIRouter(
    tags=["metrics"],
    dependencies=[Depends(require_auth)],
    responses={401: {"model": Problem, "description": "No token, or a wrong one."}},
)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
def metrics(context: Annotated[WebContext, Depends(web_context)]) -> Response:
    """Queue depth, deliveries, failures, Telegram's waits, job and stage durations, bytes
    moved and each source's last poll, in Prometheus's text format, read from the database now."""
    return Response(generate_latest(context.metrics), media_type=CONTENT_TYPE_LATEST)
