"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright), over
a real ``tikrelay serve`` against the emulated TikTok and Telegram: log in through the form,
add a source on the sources page, follow its poll and then its delivery live on the job page
(Server-Sent Events) to COMPLETED with the timeline, while a second tab's jobs list, filtered
to deliveries, shows the delivery appear and finish without a reload; and see the post's
picture on the posts page. Screenshots of each page go to ``TIKRELAY_SCREENSHOTS`` (default:
the test's temporary folder), never into the repository; CI keeps them as artefacts.

Every wait is Playwright's own ``expect``, which retries until its condition holds. The one
assumption on time: Telegram's emulator answers the delivery's ``sendVideo`` 4 seconds late,
so that the delivery is still running when its page opens and its end arrives live.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, Response, expect, sync_playwright

from tests.support.processes import running
from tests.support.relayed import Relayed
from tests.support.web import TOKEN
from tests.support.web.lines import start_line

CHROMIUM = "/usr/bin/chromium"
#: Long enough for a poll and a delivery in the emulators (each takes about a second or two).
WORK_MS = 45_000
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TIKRELAY_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page() -> Iterator[Page]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            yield context.new_page()
        finally:
            browser.close()


def test_log_in_add_a_source_and_watch_its_post_arrive(
    relayed: Relayed, page: Page, shots: Path
) -> None:
    world, telegram = relayed.world, relayed.telegram
    channel = telegram.add_chat("channel", title="Clips", username="clips")
    world.add_creator("bob")
    world.add_video("bob", desc="bob's newest")
    relayed.destinations = {"clips": {"telegram": {"chat_id": channel.id}}}
    relayed.extra = {"bot": {"enabled": False}, "web": {"listen": "127.0.0.1:0"}}
    relayed.env = {"TIKRELAY_WEB_TOKEN": TOKEN}
    telegram.delay_call("sendVideo", seconds=4)
    errors: list[str] = []  # a refused script or style (CSP) shows here

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def refused(answer: Response) -> None:
        if answer.status >= 400:
            errors.append(f"{answer.status} {answer.url}")

    page.on("console", console)
    page.on("response", refused)
    with running(relayed, "serve") as proc:
        _, url = start_line(proc)
        page.goto(url + "/")
        expect(page).to_have_url(re.compile(r"/login$"))
        page.screenshot(path=shots / "01-login.png")
        page.get_by_label("Web token").fill(TOKEN)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()

        # A second tab (the same session) watches the deliveries, none yet, live.
        watcher = page.context.new_page()
        watcher.on("console", console)
        watcher.on("response", refused)
        watcher.goto(url + "/jobs?kind=deliver")
        expect(watcher.locator("#no-jobs")).to_have_text("No job matches these filters.")
        expect(watcher.locator("#live-state")).to_have_text("following live")
        watched = watcher.locator("table.jobs tbody tr")
        expect(watched).to_have_count(0)

        page.get_by_role("navigation").get_by_role("link", name="Sources").click()
        page.get_by_label("TikTok creator").fill("@bob")
        page.get_by_label("clips").check()
        page.get_by_role("button", name="Add source").click()
        expect(page.get_by_role("status")).to_contain_text("Added tiktok:@bob")
        expect(page.get_by_role("row", name=re.compile("tiktok:@bob"))).to_be_visible()
        page.screenshot(path=shots / "02-sources.png", full_page=True)

        # The poll job, followed live to its end.
        page.get_by_role("link", name=re.compile(r"Follow job \d+")).click()
        expect(page.get_by_role("heading", name=re.compile(r"Job \d+ poll"))).to_be_visible()
        expect(page.locator("#job-status")).to_have_text("COMPLETED", timeout=WORK_MS)
        expect(page.locator("#live-state")).to_have_text("finished")
        timeline = page.locator("#timeline tbody tr")
        expect(timeline.filter(has_text="posts_chosen")).to_have_count(1)
        page.screenshot(path=shots / "03-poll-job.png", full_page=True)

        # The delivery it made: still running (Telegram answers late), then COMPLETED live.
        page.get_by_role("navigation").get_by_role("link", name="Jobs").click()
        page.get_by_label("Kind").fill("deliver")
        page.get_by_role("button", name="Filter").click()
        page.get_by_role("table").get_by_role("link").first.click()
        expect(page.get_by_role("heading", name=re.compile(r"Job \d+ deliver"))).to_be_visible()
        expect(page.locator("#live-state")).to_have_text("following live")
        expect(page.locator("#job-status")).to_have_text("COMPLETED", timeout=WORK_MS)
        expect(page.locator("#live-state")).to_have_text("finished")
        expect(page.locator("#timeline tbody tr.live")).not_to_have_count(0)
        expect(timeline.filter(has_text="COMPLETED")).not_to_have_count(0)
        page.screenshot(path=shots / "04-deliver-job.png", full_page=True)

        # The watching tab got the delivery's row, and its end, without a reload; the poll
        # (another kind) never showed there.
        expect(watched).to_have_count(1)
        expect(watched.locator(".status")).to_have_text("COMPLETED")
        expect(watched).to_contain_text("deliver")
        expect(watcher.locator("#no-jobs")).to_be_hidden()
        assert watched.get_attribute("data-job") == page.url.rsplit("/", 1)[1]
        watcher.screenshot(path=shots / "04b-jobs-live.png", full_page=True)
        watcher.close()  # before the server stops: its stream would try to reconnect

        # The post, with its picture from the media cache and where it went.
        page.get_by_role("navigation").get_by_role("link", name="Posts").click()
        post = page.locator("li.post").first
        expect(post).to_contain_text("bob's newest")
        expect(post.locator(".arrival.delivered")).to_contain_text("clips")
        picture = post.locator("img.thumb")
        expect(picture).to_have_attribute("src", re.compile(r"^/thumbnails/tiktok/\d+$"))
        expect(picture).to_have_js_property("complete", True)
        assert picture.evaluate("img => img.naturalWidth") > 0
        page.screenshot(path=shots / "05-posts.png", full_page=True)

        page.get_by_role("navigation").get_by_role("link", name="Overview").click()
        # Deliveries per day and the queue; no job failed, so no chart of failures.
        expect(page.locator(".chart canvas")).to_have_count(2)
        expect(page.get_by_text("No job has failed for good.")).to_be_visible()
        page.screenshot(path=shots / "06-overview.png", full_page=True)
        page.get_by_role("navigation").get_by_role("link", name="Settings").click()
        expect(page.get_by_role("row", name="telegram.bot_token")).to_contain_text("set")
        page.screenshot(path=shots / "07-settings.png", full_page=True)
        assert TOKEN not in page.content()
        page.get_by_role("navigation").get_by_role("link", name="Logs").click()
        page.get_by_label("Level at least").select_option("info")
        page.get_by_role("button", name="Filter").click()
        expect(page.get_by_role("row").filter(has_text="web_login")).to_have_count(1)
        page.screenshot(path=shots / "08-logs.png", full_page=True)
        assert TOKEN not in page.content()

        page.set_viewport_size(PHONE)
        page.get_by_role("navigation").get_by_role("link", name="Posts").click()
        page.screenshot(path=shots / "09-posts-phone.png", full_page=True)
        page.get_by_role("navigation").get_by_role("link", name="Sources").click()
        page.screenshot(path=shots / "10-sources-phone.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert errors == []
