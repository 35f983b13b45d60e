"""The plain progress lines a cron run writes, and the live display's bookkeeping."""

from __future__ import annotations

import pytest

from tikrelay.cli.progress import LiveProgress, PlainProgress


def test_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    progress = PlainProgress()
    progress.polled("tiktok:@alice", 10, 3)
    progress.stage("tiktok:1", "clips", "DOWNLOAD")  # stages are not printed line by line
    progress.delivered("tiktok:1", "clips", 1)
    progress.delivered("tiktok:2", "clips", 4)
    progress.failed("tiktok:3 → clips", "private: post 3 is private", retry=False)
    progress.failed("source tiktok:@bob", "network: reset", retry=True)
    assert capsys.readouterr().out.splitlines() == [
        "polled tiktok:@alice: 10 listed, 3 to deliver",
        "delivered tiktok:1 → clips (1 message)",
        "delivered tiktok:2 → clips (4 messages)",
        "failed: tiktok:3 → clips: private: post 3 is private",
        "retry later: source tiktok:@bob: network: reset",
    ]


def test_live_display_counts_deliveries_and_drops_finished_rows() -> None:
    with LiveProgress() as live:
        live.polled("tiktok:@alice", 5, 2)
        live.stage("tiktok:1", "clips", "DOWNLOAD")
        live.stage("tiktok:1", "clips", "TELEGRAM_SEND")
        live.stage("tiktok:2", "clips", "DOWNLOAD")
        live.delivered("tiktok:1", "clips", 1)
        live.failed("tiktok:2 → clips", "deleted", retry=False)
        bar = live._bar
        (total,) = bar.tasks  # the two delivery rows are gone, the total stays
        assert (total.total, total.completed) == (2, 1)
