"""``/metrics`` after a real ``tikrelay run --once`` against both emulators: the bytes it
downloaded and uploaded, each source's last poll, and the deliveries, read by a web app started
afterwards (nothing is counted in a process: it is all in the database)."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import select

from tests.support.relayed import Relayed
from tests.support.web import AUTH, TOKEN
from tikrelay.config import load_settings
from tikrelay.runtime import actions
from tikrelay.runtime.app import Runtime
from tikrelay.store.tables import job_events
from tikrelay.web.app import create_app


async def scrape(relayed: Relayed) -> dict[tuple[str, str], float]:
    """(metric, its one label's value) -> value."""
    with Runtime.open(load_settings(relayed.config), reposter=False) as runtime:
        transport = httpx.ASGITransport(app=create_app(runtime, SecretStr(TOKEN)))
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
            answer = await web.get("/metrics", headers=AUTH)
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, next(iter(sample.labels.values()), "")): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


async def test_bytes_moved_and_polls_after_a_run(relayed: Relayed) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("alice", videos=2)
    world.add_slideshow("alice", images=("jpeg", "webp"), desc="two slides")
    world.add_creator("bob", videos=1)
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.sources = [{"tiktok": "@alice", "to": ["clips"]}, {"tiktok": "@bob", "to": ["clips"]}]
    started = time.time()
    done = relayed.run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 new deliveries, 4 delivered, 0 failed" in done.stdout
    found = await scrape(relayed)

    # Downloaded: exactly the files the media cache holds from the sites (kept after the run).
    media = relayed.folder / "state" / "media" / "tiktok"
    downloads = [p for p in media.glob("*/source/*") if p.is_file()]
    assert downloads
    assert found["tikrelay_downloaded_bytes_total", "tiktok"] == sum(
        p.stat().st_size for p in downloads
    )
    # Uploaded: exactly what the Telegram emulator received as uploads (videos, their
    # thumbnails, the slides, the sound and its cover).
    received = [
        f.size
        for record in telegram.record
        if record.ok
        for f in record.files
        if f.source == "upload"
    ]
    assert found["tikrelay_uploaded_bytes_total", "clips"] == sum(received) > 0
    assert found["tikrelay_deliveries_total", "clips"] == 4
    # Stage durations: one count per STAGE_FINISHED event of the timelines, their seconds summed.
    stages: dict[str, list[float]] = {}
    with Runtime.open(load_settings(relayed.config), reposter=False) as runtime:
        query = select(job_events.c.data).where(job_events.c.type == "STAGE_FINISHED")
        with runtime.queue.engine.connect() as conn:
            for data in conn.execute(query).scalars():
                stages.setdefault(data["stage"], []).append(data["seconds"])
    assert {"FEED_FETCH", "DOWNLOAD", "TELEGRAM_SEND"} <= set(stages)
    assert found["tikrelay_stage_duration_seconds_count", "FEED_FETCH"] == 2  # two polls
    for stage, seconds in stages.items():
        assert found["tikrelay_stage_duration_seconds_count", stage] == len(seconds)
        assert found["tikrelay_stage_duration_seconds_sum", stage] == pytest.approx(sum(seconds))
    for source in ("tiktok:@alice", "tiktok:@bob"):
        assert 0 < found["tikrelay_poll_duration_seconds", source] < time.time() - started
        assert 0 <= found["tikrelay_poll_age_seconds", source] < time.time() - started + 1


async def test_a_post_sent_again_by_file_id_uploads_nothing(relayed: Relayed) -> None:
    """The same post to a second chat goes by Telegram's file ids: no byte is uploaded for it,
    and the media cache's files are not downloaded again."""
    world, telegram = relayed.world, relayed.telegram
    first = telegram.add_chat("channel", title="First", username="first")
    second = telegram.add_chat("channel", title="Second", username="second")
    world.add_creator("alice")
    post = world.add_video("alice", desc="sent twice")
    relayed.destinations = {
        "first": {"telegram": {"chat_id": first.id}},
        "second": {"telegram": {"chat_id": second.id}},
    }
    relayed.sources = [{"tiktok": "@alice", "to": ["first"]}]
    done = relayed.run()
    assert done.returncode == 0, done.stdout + done.stderr
    # Asked for in the second chat afterwards: it goes by the file ids the first send got.
    with Runtime.open(load_settings(relayed.config), reposter=False) as runtime:
        actions.request_link(runtime, post.url, "second", None)
    again = relayed.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert [r.chat_id for r in telegram.record if r.ok and r.method == "sendVideo"] == [
        first.id,
        second.id,
    ]
    found = await scrape(relayed)
    uploads = {
        name: sum(
            f.size
            for record in telegram.record
            if record.ok and record.chat_id == chat
            for f in record.files
            if f.source == "upload"
        )
        for name, chat in (("first", first.id), ("second", second.id))
    }
    sent = {name: found.get(("tikrelay_uploaded_bytes_total", name), 0.0) for name in uploads}
    assert sent == uploads
    assert sent["first"] > 0
    assert sent["second"] == 0  # by file id: nothing uploaded
    downloads = [
        p for p in (relayed.folder / "state" / "media").glob("tiktok/*/source/*") if p.is_file()
    ]
    assert found["tikrelay_downloaded_bytes_total", "tiktok"] == sum(
        p.stat().st_size for p in downloads
    )
