"""The dashboard's pages in-process: each one behind the login, with a Content-Security-Policy
that allows only tikrelay's own files and no inline script; the sources page's forms (add,
edit, pause, resume, poll now) with their CSRF value and messages that name the field; jobs,
posts with their pictures from the media cache, settings without a secret, and the logs."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import structlog

from tests.support.web import AUTH
from tests.support.web.browser import Browser, log_in
from tests.support.web.posts import add_post
from tikrelay.config import load_settings
from tikrelay.config.paths import StatePaths
from tikrelay.domain.jobs import JobStatus
from tikrelay.reposter.model import POLL
from tikrelay.runtime.app import Runtime

PAGES = ["/", "/sources", "/posts", "/jobs", "/settings", "/logs", "/sources/@alice/edit"]
SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
#: A tiny JPEG's first bytes are enough: the route serves files, it does not decode them.
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60


@pytest.fixture
def catalog(runtime: Runtime, tmp_path: Path) -> Runtime:
    settings = load_settings(
        None,
        state_dir=str(tmp_path / "state"),
        destinations={"clips": {"telegram": {"chat_id": -100123}}},
        sources=[{"tiktok": "@filed", "to": ["clips"]}],
    )
    runtime.catalog().sync_from_settings(settings)
    runtime.catalog().add_source("@alice", ["clips"], origin="web")
    return runtime


@pytest.fixture
async def user(browser: httpx.AsyncClient) -> Browser:
    return await log_in(browser)


async def form(
    web: httpx.AsyncClient, user: Browser, path: str, **fields: object
) -> httpx.Response:
    return await web.post(path, data={"csrf": user.csrf, **fields}, headers=user.cookie)


async def test_every_page_needs_a_login_and_loads_only_our_own_files(
    browser: httpx.AsyncClient, user: Browser, catalog: Runtime
) -> None:
    for path in PAGES:
        stranger = await browser.get(path)
        assert (stranger.status_code, stranger.headers["location"]) == (303, "/login"), path
        page = await browser.get(path, headers=user.cookie)
        assert page.status_code == 200, (path, page.text)
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy
        assert "default-src 'none'" in policy
        assert "unsafe-inline" not in policy
        for attributes in SCRIPT.findall(page.text):  # every script is a file of ours
            assert re.search(r'src="/assets/[^"]+"', attributes), (path, attributes)
        assert 'action="/logout"' in page.text
    for path in ("/thumbnails/tiktok/1", "/api/jobs/1/events"):
        assert (await browser.get(path)).status_code == 401
    for path in ("/sources", "/sources/@alice/pause", "/jobs/1/cancel"):  # forms need a login
        assert (await browser.post(path)).headers["location"] == "/login"


async def test_a_form_without_its_csrf_value_changes_nothing(
    browser: httpx.AsyncClient, user: Browser, catalog: Runtime
) -> None:
    for csrf in ("", "not-the-token"):
        answer = await browser.post(
            "/sources", data={"csrf": csrf, "tiktok": "@bob", "to": "clips"}, headers=user.cookie
        )
        assert answer.status_code == 403
        assert "Nothing was changed" in answer.text
    assert catalog.catalog().source("@bob") is None


async def test_sources_are_added_edited_paused_resumed_and_polled(
    browser: httpx.AsyncClient, user: Browser, catalog: Runtime
) -> None:
    added = await form(browser, user, "/sources", tiktok="@bob", to="clips", backfill="2")
    assert added.status_code == 303
    location = added.headers["location"]
    assert location.startswith("/sources?done=added&source=tiktok%3A%40bob&job=")
    page = await browser.get(location, headers=user.cookie)
    job_id = int(location.rsplit("=", 1)[1])
    assert f"Added tiktok:@bob; its first poll is job {job_id}." in page.text
    assert f'href="/jobs/{job_id}"' in page.text
    polled = catalog.queue.get(job_id)
    assert polled is not None
    assert polled.kind == POLL
    assert "from the config file" in page.text  # @filed: no edit, no pause

    edited = await form(
        browser, user, "/sources/tiktok:@bob/edit", to="clips", depth="7", every_minutes="30"
    )
    assert edited.status_code == 303, edited.text
    source = catalog.catalog().source("@bob")
    assert source is not None
    assert (source.settings.depth, source.settings.every_minutes) == (7, 30)

    assert (await form(browser, user, "/sources/tiktok:@bob/pause")).status_code == 303
    assert catalog.catalog().source("@bob").paused  # type: ignore[union-attr]
    refused = await form(browser, user, "/sources/tiktok:@bob/poll")
    assert refused.status_code == 409
    assert "source tiktok:@bob is paused: resume it first" in refused.text
    assert (await form(browser, user, "/sources/tiktok:@bob/resume")).status_code == 303
    assert not catalog.catalog().source("@bob").paused  # type: ignore[union-attr]
    again = await form(browser, user, "/sources/tiktok:@bob/poll")
    assert again.headers["location"] == f"/sources?done=polled&source=tiktok%3A%40bob&job={job_id}"
    read_only = await form(browser, user, "/sources/tiktok:@filed/pause")
    assert read_only.status_code == 409
    assert "comes from the config file" in read_only.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tiktok": "", "to": "clips"}, "tiktok: enter a creator"),
        ({"tiktok": "@bob"}, "to: choose at least one destination"),
        ({"tiktok": "@bob", "to": "nowhere"}, "to: destination &#39;nowhere&#39; does not exist"),
        (
            {"tiktok": "@bob", "to": "clips", "depth": "many"},
            "depth: &#39;many&#39; is not a whole",
        ),
        ({"tiktok": "@alice", "to": "clips"}, "tiktok:@alice"),
    ],
)
async def test_a_refused_source_says_which_field_and_keeps_the_form(
    browser: httpx.AsyncClient,
    user: Browser,
    catalog: Runtime,
    fields: dict[str, str],
    message: str,
) -> None:
    answer = await form(browser, user, "/sources", **fields)
    assert answer.status_code in (409, 422)
    assert message in answer.text
    assert 'role="alert" id="problem"' in answer.text
    if fields.get("tiktok"):
        assert f'value="{fields["tiktok"]}"' in answer.text


async def test_jobs_and_a_job_page_with_its_timeline(
    browser: httpx.AsyncClient, user: Browser, runtime: Runtime
) -> None:
    made = runtime.service.enqueue("greet", {"name": "Ann"})
    listed = await browser.get("/jobs?status=QUEUED&kind=greet", headers=user.cookie)
    assert f'href="/jobs/{made.job.id}"' in listed.text
    assert (await browser.get("/jobs?status=&kind=", headers=user.cookie)).status_code == 200
    wrong = await browser.get("/jobs?status=LOST", headers=user.cookie)
    assert wrong.status_code == 422
    assert "status: &#39;LOST&#39; is not one of" in wrong.text

    page = await browser.get(f"/jobs/{made.job.id}", headers=user.cookie)
    events = runtime.queue.events(made.job.id)
    assert f'data-job-events="/api/jobs/{made.job.id}/events?after={events[-1].id}"' in page.text
    assert "JOB_CREATED" in page.text
    assert "name</dt><dd>Ann" in page.text
    cancelled = await form(browser, user, f"/jobs/{made.job.id}/cancel")
    assert cancelled.headers["location"] == f"/jobs/{made.job.id}"
    assert runtime.queue.get(made.job.id).status is JobStatus.CANCELLED  # type: ignore[union-attr]
    twice = await form(browser, user, f"/jobs/{made.job.id}/cancel")
    assert twice.status_code == 409
    assert "is CANCELLED already" in twice.text
    retried = await form(browser, user, f"/jobs/{made.job.id}/retry")
    assert retried.headers["location"] != f"/jobs/{made.job.id}"
    missing = await browser.get("/jobs/999999", headers=user.cookie)
    assert missing.status_code == 404
    assert "does not exist" in missing.text


async def test_posts_show_their_picture_or_a_placeholder(
    browser: httpx.AsyncClient, user: Browser, runtime: Runtime
) -> None:
    add_post(runtime, "111", author="alice", delivered_to=("clips",))
    add_post(runtime, "222", author="bob")
    folder = StatePaths(runtime.settings.state_dir).post_media("tiktok", "111") / "telegram"
    folder.mkdir(parents=True)
    (folder / "video.thumb.jpg").write_bytes(JPEG)
    outside = runtime.settings.state_dir / "secret.jpg"
    outside.write_bytes(JPEG)

    page = await browser.get("/posts", headers=user.cookie)
    assert '<img class="thumb" src="/thumbnails/tiktok/111"' in page.text
    assert 'src="/assets/placeholder.svg" alt="No picture in the media cache"' in page.text
    assert "clips</span>:\n          delivered" in page.text
    picture = await browser.get("/thumbnails/tiktok/111", headers=user.cookie)
    assert (picture.status_code, picture.headers["content-type"]) == (200, "image/jpeg")
    assert picture.content == JPEG
    assert (await browser.get("/thumbnails/tiktok/222", headers=user.cookie)).status_code == 404
    for path in ("/thumbnails/../secret.jpg", "/thumbnails/tiktok/..%2F..%2Fsecret.jpg"):
        assert (await browser.get(path, headers=user.cookie)).status_code == 404
    filtered = await browser.get("/posts?creator=bob&kind=&status=", headers=user.cookie)
    assert "tiktok:222" in filtered.text
    assert "tiktok:111" not in filtered.text
    wrong = await browser.get("/posts?kind=film", headers=user.cookie)
    assert wrong.status_code == 422
    assert "kind: &#39;film&#39; is not one of" in wrong.text


async def test_settings_show_secrets_as_set_only(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    page = await client.get("/settings", headers=AUTH)
    assert page.status_code == 200
    assert re.search(r"TIKRELAY_WEB_TOKEN</code> \(environment\)</th><td>set<", page.text)
    assert re.search(r"<code>telegram.bot_token</code></th><td>unset<", page.text)
    assert "web-test-token" not in page.text


async def test_logs_are_filtered_by_job_and_level(
    browser: httpx.AsyncClient, user: Browser
) -> None:
    log = structlog.get_logger("tikrelay.test")
    log.info("stage_done_for_the_page", job_id=424242, stage="DOWNLOAD")
    log.warning("a_warning_for_the_page", job_id=424242, token="hunter2-should-not-show")
    log.info("another_job_line", job_id=434343)
    page = await browser.get("/logs?job=424242&level=", headers=user.cookie)
    assert "stage_done_for_the_page" in page.text
    assert "a_warning_for_the_page" in page.text
    assert "another_job_line" not in page.text
    assert "hunter2" not in page.text
    assert "[redacted]" in page.text
    warnings = await browser.get("/logs?job=424242&level=warning", headers=user.cookie)
    assert "a_warning_for_the_page" in warnings.text
    assert "stage_done_for_the_page" not in warnings.text
    wrong = await browser.get("/logs?job=abc", headers=user.cookie)
    assert "job: &#39;abc&#39; is not a job id" in wrong.text


async def test_a_bad_position_in_the_posts_shows_the_newest(
    browser: httpx.AsyncClient, user: Browser, runtime: Runtime
) -> None:
    add_post(runtime, "333", author="carol")
    page = await browser.get("/posts?cursor=garbage", headers=user.cookie)
    assert page.status_code == 422
    assert "cursor: not a position of this list" in page.text
    assert "tiktok:333" in page.text
