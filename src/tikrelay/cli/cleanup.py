"""``tikrelay cleanup``: the media cache, the archives' ``keep_days`` and the finished jobs'
retention, applied now."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from tikrelay.cli.common import ConfigOption, fail, settings_from
from tikrelay.cli.relaying import open_runtime
from tikrelay.config.logging import configure_logging
from tikrelay.domain.errors import TikrelayError


def cleanup(config: Path | None = ConfigOption) -> None:
    """Delete downloaded media no job needs (delivery.keep_media_hours, delivery.cache_max_gb),
    archived posts older than their archive's keep_days, and finished jobs with their timelines
    past their retention (jobs.keep_days, jobs.keep_failed_days). What a waiting or running job
    needs is never deleted. Exit 0: done; 2: config error; 3: an archive could not be
    cleaned."""
    settings = settings_from(config)
    configure_logging(level=logging.WARNING)
    runtime = open_runtime(settings, config)
    try:
        reposter = runtime.reposter
        assert reposter is not None  # opened with the reposter
        folders = reposter.prune_media()
        typer.echo(f"media cache: {folders} post folders deleted")
        jobs = runtime.prune_jobs()
        typer.echo(f"jobs: {jobs.jobs} finished jobs and {jobs.events} events deleted")
        try:
            pruned = reposter.prune_archives()
        except TikrelayError as exc:
            raise fail(f"archive clean-up failed: {exc.message}", 3) from None
        for name, posts in pruned.items():
            typer.echo(f"archive {name}: {posts} posts older than keep_days deleted")
    finally:
        runtime.close()
