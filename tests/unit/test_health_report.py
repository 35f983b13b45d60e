"""The health report's types, and the ``sources`` check, which reads only the settings."""

from __future__ import annotations

from typing import Any

import pytest

from tikrelay.config import Settings
from tikrelay.health import Check, Report, Status, check_sources

DESTINATIONS: dict[str, Any] = {
    "clips": {"telegram": {"chat_id": -1001}, "caption": "{{ text }} by @{{ author }}"},
    "raw": {"telegram": {"chat_id": -1002}},
}


def test_a_check_is_failed_by_any_problem_and_skipped_only_without_one() -> None:
    fine = Check("ffmpeg", detail="/usr/bin/ffmpeg", notes=("worth knowing",))
    broken = Check("cookies", problems=("run `chmod 600 cookies.txt`",))
    waiting = Check("destination clips", detail="not checked", skipped=True)

    assert (fine.ok, fine.status) == (True, Status.PASSED)
    assert (broken.ok, broken.status) == (False, Status.FAILED)
    assert (waiting.ok, waiting.status) == (True, Status.SKIPPED)


def test_a_report_counts_failures_among_the_checks_that_ran() -> None:
    checks = (
        Check("telegram", problems=("no bot token: set TELEGRAM_BOT_TOKEN",)),
        Check("destination clips", detail="not checked", skipped=True),
        Check("ffmpeg", detail="/usr/bin/ffmpeg"),
    )
    report = Report(checks)

    assert not report.ok
    assert [c.name for c in report.failures] == ["telegram"]
    assert [c.name for c in report.done] == ["telegram", "ffmpeg"]
    assert report.named("ffmpeg") is checks[2]
    with pytest.raises(KeyError):
        report.named("cookies")
    assert Report(checks[1:]).ok


def test_rewriting_a_check_reaches_every_text_and_keeps_the_rest() -> None:
    check = Check("proxy A", detail="A", problems=("A1", "A2"), notes=("A3",), skipped=True)

    assert check.rewritten(lambda text: text.replace("A", "b")) == Check(
        "proxy b", detail="b", problems=("b1", "b2"), notes=("b3",), skipped=True
    )


def test_the_sources_check_names_the_creators_and_counts_the_templates() -> None:
    settings = Settings(
        destinations=DESTINATIONS,
        sources=[
            {"tiktok": "@alice", "to": ["clips", "raw"]},
            {"tiktok": "https://www.tiktok.com/@bob", "to": ["raw"]},
        ],
    )

    assert check_sources(settings) == Check(
        "sources", detail="2 creators (@alice, @bob); 1 caption template compile"
    )


@pytest.mark.parametrize(
    ("destinations", "sources", "problem"),
    [
        (DESTINATIONS, [], "nothing is watched: add a creator under sources"),
        (
            DESTINATIONS,
            [{"tiktok": "https://example.com/x", "to": ["raw"]}],
            "sources.0.tiktok: 'https://example.com/x' is not a TikTok creator",
        ),
        (
            {"clips": {"telegram": {"chat_id": -1001}, "caption": "{{ caption }}"}},
            [{"tiktok": "@alice", "to": ["clips"]}],
            "destinations.clips.caption: unknown variable 'caption'",
        ),
    ],
)
def test_the_sources_check_fails_with_the_key_to_fix(
    destinations: dict[str, Any], sources: list[dict[str, Any]], problem: str
) -> None:
    found = check_sources(Settings(destinations=destinations, sources=sources))

    assert found.status is Status.FAILED
    [only] = found.problems
    assert only.startswith(problem)
