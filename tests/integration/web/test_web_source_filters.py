"""``url:`` sources and ``filters`` through ``/api/sources`` and the sources page's forms, as the
config file writes them: added and edited, a bad value refused with 422 naming its field (FastAPI's
own check or the config file's), a ``url:`` key in a path (its slashes escaped or not), and the
OpenAPI document that shows both."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.web.browser import Browser, log_in
from tikrelay.config import load_settings
from tikrelay.config.settings import FilterSettings, SourceSettings
from tikrelay.reposter.model import POLL
from tikrelay.runtime.app import Runtime

FEED = "https://feeds.example.org/harbour.xml"
KEY = f"url:{FEED}"


@pytest.fixture
def catalog(runtime: Runtime, tmp_path: Path) -> Runtime:
    settings = load_settings(
        None,
        state_dir=str(tmp_path / "state"),
        destinations={
            "clips": {"telegram": {"chat_id": -100123}},
            "more": {"telegram": {"chat_id": -100456}},
        },
        sources=[{"tiktok": "@filed", "to": ["clips"], "filters": {"min_likes": 5}}],
    )
    runtime.catalog().sync_from_settings(settings)
    return runtime


def locations(answer: httpx.Response) -> list[list[Any]]:
    assert answer.status_code == 422, answer.text
    return [entry["loc"] for entry in answer.json()["detail"]]


async def test_a_url_source_with_filters_is_added_and_polled(
    client: httpx.AsyncClient, catalog: Runtime
) -> None:
    rules = {"min_views": 1000, "kinds": ["video"], "exclude": ["#ad"], "max_age_days": 0.5}
    body = {"url": FEED, "to": ["clips"], "filters": rules, "backfill": 1}
    answer = await client.post("/api/sources", json=body)
    assert answer.status_code == 201, answer.text
    shown = answer.json()["source"]
    assert (shown["key"], shown["url"], shown["tiktok"], shown["username"]) == (
        KEY,
        FEED,
        None,
        FEED,
    )
    assert {k: v for k, v in shown["filters"].items() if v is not None} == rules
    poll = catalog.queue.get(answer.json()["poll"]["job_id"])
    assert poll is not None
    assert (poll.kind, dict(poll.payload)) == (POLL, {"source": KEY})
    stored = catalog.catalog().source(KEY)
    assert stored is not None
    assert stored.settings == SourceSettings(
        url=FEED, to=["clips"], backfill=1, filters=FilterSettings.model_validate(rules)
    )
    listed = {s["key"]: s for s in (await client.get("/api/sources")).json()["sources"]}
    assert listed["tiktok:@filed"]["filters"]["min_likes"] == 5  # the file's, shown too
    assert listed[KEY]["filters"]["min_views"] == 1000


@pytest.mark.parametrize(
    ("body", "where", "said"),
    [
        ({"filters": {"min_views": -1}}, ["body", "filters", "min_views"], "greater than"),
        ({"filters": {"min_views": "many"}}, ["body", "filters", "min_views"], "integer"),
        ({"filters": {"kinds": ["audio"]}}, ["body", "filters", "kinds", 0], "video"),
        ({"filters": {"kinds": []}}, ["body", "filters", "kinds"], "at least 1"),
        ({"filters": {"colour": "red"}}, ["body", "filters", "colour"], "Extra inputs"),
        ({"filters": {"include": ["!!!"]}}, ["body", "filters", "include", 0], "no letters"),
        (
            {"filters": {"min_duration": 90, "max_duration": 60}},
            ["body", "filters"],
            "min_duration 90 is more than max_duration 60",
        ),
        (
            {"filters": {"include": ["#ad"], "exclude": ["#AD"]}},
            ["body", "filters"],
            "in both include and exclude",
        ),
        ({"url": "https://www.tiktok.com/tag/cats"}, ["body", "url"], "app_info"),
        ({"url": "ftp://example.org/feed"}, ["body", "url"], "not a channel or playlist"),
        ({"url": FEED, "tiktok": "@bob"}, ["body", "url"], "give exactly one of tiktok"),
        ({}, ["body", "tiktok"], "give exactly one of tiktok"),
    ],
)
async def test_a_bad_source_or_filter_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
    catalog: Runtime,
    body: dict[str, Any],
    where: list[Any],
    said: str,
) -> None:
    source = {"tiktok": "@bob"} if "url" not in body and body else {}
    answer = await client.post("/api/sources", json={**source, "to": ["clips"], **body})
    assert where in locations(answer), answer.text
    assert any(said in entry["msg"] for entry in answer.json()["detail"]), answer.text
    assert [s.key for s in catalog.catalog().source_entries()] == ["tiktok:@filed"]


async def test_filters_are_edited_and_a_url_key_works_in_every_path(
    client: httpx.AsyncClient, catalog: Runtime
) -> None:
    await client.post("/api/sources", json={"url": FEED, "to": ["clips"]})
    for path in (f"/api/sources/{KEY}", f"/api/sources/{quote(KEY, safe=':')}"):
        edited = await client.patch(
            path, json={"filters": {"min_likes": 3, "include": ["cats"]}, "to": ["more"]}
        )
        assert edited.status_code == 200, (path, edited.text)
        assert edited.json()["filters"]["include"] == ["cats"]
        assert edited.json()["to"] == ["more"]
    replaced = await client.patch(f"/api/sources/{FEED}", json={"filters": {"min_height": 720}})
    shown = {k: v for k, v in replaced.json()["filters"].items() if v is not None}
    assert shown == {"min_height": 720}  # replaced whole
    kept = await client.patch(f"/api/sources/{KEY}", json={"depth": 4, "filters": None})
    assert kept.json()["filters"]["min_height"] == 720  # null keeps them
    refused = await client.patch(f"/api/sources/{KEY}", json={"filters": {"min_height": 0}})
    assert ["body", "filters", "min_height"] in locations(refused)
    cleared = await client.patch(f"/api/sources/{KEY}", json={"filters": {}})
    assert cleared.json()["filters"] is None
    polled = await client.post(f"/api/sources/{quote(KEY, safe=':')}/poll")
    assert polled.status_code == 202, polled.text
    filed = await client.patch("/api/sources/@filed", json={"filters": {}})
    assert filed.status_code == 409
    assert "change it there" in filed.json()["detail"]
    assert (await client.delete(f"/api/sources/{KEY}")).json() == {"key": KEY}
    assert (await client.patch(f"/api/sources/{KEY}", json={"depth": 2})).status_code == 404


async def test_the_openapi_document_shows_url_and_filters(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for model in ("SourceIn", "SourcePatch", "SourceOut"):
        assert "filters" in schemas[model]["properties"], model
    assert "url" in schemas["SourceIn"]["properties"]
    rules = set(schemas["SourceFilters"]["properties"])
    assert rules == set(FilterSettings.model_fields)  # the config file's names, every one
    assert "/api/sources/{id}" in document["paths"]
    assert "/api/sources/{id}/poll" in document["paths"]


# -- the sources page's forms -------------------------------------------------------------------


@pytest.fixture
async def user(browser: httpx.AsyncClient) -> Browser:
    return await log_in(browser)


async def form(
    web: httpx.AsyncClient, user: Browser, path: str, **fields: object
) -> httpx.Response:
    return await web.post(path, data={"csrf": user.csrf, **fields}, headers=user.cookie)


async def test_the_form_adds_a_url_source_with_filters_and_edits_them(
    browser: httpx.AsyncClient, user: Browser, catalog: Runtime
) -> None:
    added = await form(
        browser,
        user,
        "/sources",
        url=FEED,
        to="clips",
        min_views="1000",
        max_age_days="2.5",
        kinds=["video"],
        exclude="#ad, new york",
    )
    assert added.status_code == 303, added.text
    assert "source=url%3Ahttps" in added.headers["location"]
    found = catalog.catalog().source(KEY)
    assert found is not None
    assert found.origin == "web"
    assert found.settings.filters == FilterSettings(
        min_views=1000, max_age_days=2.5, kinds=["video"], exclude=["#ad", "new york"]
    )
    page = await browser.get("/sources", headers=user.cookie)
    shown = "filters: min_views=1000 max_age_days=2.5 kinds=video exclude=#ad,&#34;new york&#34;"
    assert shown in page.text
    edit = await browser.get(f"/sources/{quote(KEY, safe=':@')}/edit", headers=user.cookie)
    assert edit.status_code == 200, edit.text
    assert 'id="min_views" name="min_views" inputmode="numeric" value="1000"' in edit.text
    assert 'value="#ad, new york"' in edit.text
    assert 'name="kinds" value="video" checked' in edit.text

    saved = await form(
        browser, user, f"/sources/{quote(KEY, safe=':@')}/edit", to="clips", min_height="720"
    )
    assert saved.status_code == 303, saved.text
    edited = catalog.catalog().source(KEY)
    assert edited is not None
    assert edited.settings.filters == FilterSettings(min_height=720)  # the form is the whole
    cleared = await form(browser, user, f"/sources/{quote(KEY, safe=':@')}/edit", to="clips")
    assert cleared.status_code == 303
    assert catalog.catalog().source(KEY).settings.filters is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "message", "field"),
    [
        (
            {"min_views": "lots"},
            "filters.min_views: &#39;lots&#39; is not a whole number",
            "min_views",
        ),
        (
            {"min_likes": "-3"},
            "filters.min_likes: Input should be greater than or equal to 0",
            "min_likes",
        ),
        (
            {"max_duration": "0"},
            "filters.max_duration: Input should be greater than 0",
            "max_duration",
        ),
        ({"kinds": "audio"}, "filters.kinds.0: &#39;audio&#39; is not a kind", None),
        ({"include": "cats", "exclude": "CATS"}, "filters: &#39;cats&#39; is in both", "include"),
        (
            {"url": "https://www.tiktok.com/tag/cats", "tiktok": ""},
            "url: https://www.tiktok.com/tag/cats",
            "url",
        ),
        (
            {"url": FEED},
            "url: give a TikTok creator or a channel or playlist address, not both",
            "url",
        ),
    ],
)
async def test_a_refused_filter_names_its_field_and_keeps_the_form(
    browser: httpx.AsyncClient,
    user: Browser,
    catalog: Runtime,
    fields: dict[str, str],
    message: str,
    field: str | None,
) -> None:
    answer = await form(browser, user, "/sources", **{"tiktok": "@bob", "to": "clips", **fields})
    assert answer.status_code == 422, answer.text
    assert message in answer.text
    if field is not None:
        marked = f'id="{field}" name="{field}"'
        start = answer.text.index(marked)
        assert 'aria-invalid="true"' in answer.text[start : answer.text.index(">", start)]
    assert catalog.catalog().source("@bob") is None
