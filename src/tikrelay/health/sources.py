"""The ``sources`` check: every creator reference and caption template is usable, and something
is watched."""

from __future__ import annotations

from tikrelay.config.settings import Settings
from tikrelay.health.report import Check, failed, passed


def check_sources(settings: Settings) -> Check:
    from tikrelay.reposter.model import SetupError, check_relay_settings, watched_sources

    try:
        check_relay_settings(settings, archives=False)  # the archive checks say those
    except SetupError as exc:
        return failed("sources", str(exc))
    watched = watched_sources(settings)
    if not watched:
        return failed(
            "sources",
            "nothing is watched: add a creator under sources (tiktok: '@name', to: [...])",
        )
    names = ", ".join(w.label for w in watched)
    templates = sum(1 for d in settings.destinations.values() if d.caption)
    captions = f"; {counted(templates, 'caption template')} compile" if templates else ""
    return passed("sources", f"{counted(len(watched), 'creator')} ({names}){captions}")


def counted(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
