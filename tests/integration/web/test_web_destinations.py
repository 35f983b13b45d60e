"""``/api/destinations`` and the destinations page: destinations added, edited and removed
through the web as ``tikrelay destinations …`` does, on SQLite and PostgreSQL; the config
file's entries read-only; a destination in use kept, naming its users; bad input naming its
field; and the reposter of ``tikrelay serve``, or a worker of another process, routing to a
destination added here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.support.web import AUTH, TOKEN
from tests.support.web.browser import Browser, log_in
from tikrelay.config import load_settings
from tikrelay.config.settings import DestinationSettings
from tikrelay.runtime.app import Runtime
from tikrelay.store import catalog_sql
from tikrelay.web.app import create_app

BOT_TOKEN = "123456:WEB-DESTINATIONS"


@pytest.fixture
def catalog(runtime: Runtime, tmp_path: Path) -> Runtime:
    """A destination and a source from the config file."""
    settings = load_settings(
        None,
        state_dir=str(tmp_path / "state"),
        destinations={"filed": {"telegram": {"chat_id": -100999}}},
        sources=[{"tiktok": "@filed", "to": ["filed"]}],
    )
    runtime.catalog().sync_from_settings(settings)
    return runtime


@pytest.fixture
async def user(browser: httpx.AsyncClient) -> Browser:
    return await log_in(browser)


def stored(runtime: Runtime, name: str) -> DestinationSettings | None:
    return runtime.catalog().destination(name)


def locations(answer: httpx.Response) -> list[list[Any]]:
    assert answer.status_code == 422, answer.text
    return [entry["loc"] for entry in answer.json()["detail"]]


async def test_a_chat_and_an_archive_are_added(
    client: httpx.AsyncClient, catalog: Runtime, tmp_path: Path
) -> None:
    chat = {"name": "clips", "telegram": {"chat_id": -100123, "topic_id": 5}, "link": True}
    answer = await client.post("/api/destinations", json=chat)
    assert answer.status_code == 201, answer.text
    shown = answer.json()
    assert (shown["name"], shown["origin"], shown["read_only"], shown["kind"]) == (
        "clips",
        "web",
        False,
        "telegram",
    )
    assert (shown["chat_id"], shown["topic_id"], shown["link"], shown["sources"]) == (
        "-100123",
        5,
        True,
        0,
    )
    entry = catalog.catalog().destination_entries()
    assert [(e.name, e.origin) for e in entry] == [("clips", "web"), ("filed", "file")]
    # Only what was given is stored, as for the command line: defaults apply to the rest.
    with catalog.queue.engine.connect() as conn:
        row = catalog_sql.destination(conn, "clips")
    assert row is not None
    assert dict(row.settings) == {"telegram": {"chat_id": -100123, "topic_id": 5}, "link": True}

    vault = tmp_path / "vault"
    archive = {"name": "vault", "archive": {"path": str(vault), "keep_days": 7}}
    added = await client.post("/api/destinations", json=archive)
    assert added.status_code == 201, added.text
    assert (added.json()["kind"], added.json()["archive"]) == ("archive", str(vault))
    archived = {"name": "kept", "telegram": {"chat_id": "@kept"}, "archive_to": "vault"}
    assert (await client.post("/api/destinations", json=archived)).status_code == 201
    assert stored(catalog, "kept") == DestinationSettings.model_validate(
        {"telegram": {"chat_id": "@kept"}, "archive_to": "vault"}
    )
    listed = (await client.get("/api/destinations")).json()["destinations"]
    assert [d["name"] for d in listed] == ["clips", "filed", "kept", "vault"]

    again = await client.post("/api/destinations", json={**chat, "link": False})
    assert again.status_code == 409
    assert "exists already (added through web)" in again.json()["detail"]
    filed = await client.post(
        "/api/destinations", json={"name": "filed", "telegram": {"chat_id": 1}}
    )
    assert filed.status_code == 409
    assert "comes from the config file" in filed.json()["detail"]


@pytest.mark.parametrize(
    ("body", "where", "said"),
    [
        ({"telegram": {"chat_id": 1}}, ["body", "name"], "Field required"),
        ({"name": " x ", "telegram": {"chat_id": 1}}, ["body", "name"], "spaces around it"),
        ({"name": "x"}, ["body", "telegram"], "give exactly one of telegram"),
        (
            {"name": "x", "telegram": {"chat_id": 1}, "archive": {"path": "/tmp/x"}},
            ["body", "telegram"],
            "exactly one",
        ),
        (
            {"name": "x", "telegram": {"chat_id": "the-group"}},
            ["body", "telegram", "chat_id"],
            "write a numeric chat id",
        ),
        (
            {"name": "x", "telegram": {"chat_id": 2**60}},
            ["body", "telegram", "chat_id"],
            "too long for a Telegram chat id",
        ),
        ({"name": "x", "telegram": {"chat_id": True}}, ["body", "telegram", "chat_id"], ""),
        (
            {"name": "x", "telegram": {"chat_id": 1, "topic_id": 0}},
            ["body", "telegram", "topic_id"],
            "",
        ),
        ({"name": "x", "telegram": {"chat_id": 1, "hevc": True}}, ["body", "telegram", "hevc"], ""),
        (
            {"name": "x", "telegram": {"chat_id": 1}, "caption": "{{ text "},
            ["body", "caption"],
            "caption: line 1",
        ),
        (
            {"name": "x", "telegram": {"chat_id": 1}, "archive_to": "filed"},
            ["body", "archive_to"],
            "archive_to: names 'filed', which is not an archive destination",
        ),
        (
            {"name": "x", "archive": {"path": "/tmp/x"}, "caption": "{{ text }}"},
            ["body", "caption"],
            "belongs to a telegram destination",
        ),
        (
            {"name": "x", "archive": {"path": "/tmp/x", "url": "s3://b/p"}},
            ["body", "archive"],
            "give exactly one of path",
        ),
        (
            {"name": "x", "archive": {"url": "ftp://b/p"}},
            ["body", "archive"],
            "is not an archive address",
        ),
        ({"name": "x", "telegram": {"chat_id": 1}, "colour": "red"}, ["body", "colour"], ""),
        ({"name": "x", "telegram": {"chat_id": "@a\u0000b"}}, ["body", "telegram", "chat_id"], ""),
    ],
)
async def test_bad_destinations_name_the_field(
    client: httpx.AsyncClient,
    catalog: Runtime,
    body: dict[str, Any],
    where: list[Any],
    said: str,
) -> None:
    answer = await client.post("/api/destinations", json=body)
    assert where in locations(answer), answer.text
    assert said in " ".join(entry["msg"] for entry in answer.json()["detail"])
    assert [e.name for e in catalog.catalog().destination_entries()] == ["filed"]


async def test_a_destination_is_edited_as_a_merge_patch(
    client: httpx.AsyncClient, catalog: Runtime, tmp_path: Path
) -> None:
    body = {
        "name": "clips",
        "telegram": {"chat_id": -100123, "topic_id": 5},
        "caption": "{{ text }}",
    }
    await client.post("/api/destinations", json=body)
    await client.post("/api/sources", json={"tiktok": "@alice", "to": ["clips"]})
    edited = await client.patch(
        "/api/destinations/clips", json={"telegram": {"topic_id": 7}, "link": True}
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["chat_id"], edited.json()["topic_id"], edited.json()["link"]) == (
        "-100123",
        7,
        True,
    )
    assert edited.json()["sources"] == 1  # its routes are kept
    assert edited.json()["origin"] == "web"
    reset = await client.patch(
        "/api/destinations/clips", json={"caption": None, "telegram": {"topic_id": None}}
    )
    assert (reset.json()["caption"], reset.json()["topic_id"]) == (None, None)
    assert stored(catalog, "clips") == DestinationSettings.model_validate(
        {"telegram": {"chat_id": -100123}, "link": True}
    )

    refused = await client.patch("/api/destinations/clips", json={"telegram": {"chat_id": "x"}})
    assert ["body", "telegram", "chat_id"] in locations(refused)
    bad_caption = await client.patch("/api/destinations/clips", json={"caption": "{% if %}"})
    assert ["body", "caption"] in locations(bad_caption)
    missing = await client.patch("/api/destinations/clips", json={"telegram": None})
    assert ["body", "telegram"] in locations(missing)
    assert stored(catalog, "clips") == DestinationSettings.model_validate(
        {"telegram": {"chat_id": -100123}, "link": True}
    )  # nothing changed

    vault = {"name": "vault", "archive": {"path": str(tmp_path / "vault")}}
    await client.post("/api/destinations", json=vault)
    linked = await client.patch("/api/destinations/clips", json={"archive_to": "vault"})
    assert linked.json()["archive_to"] == "vault"
    # An archive a chat archives to stays an archive.
    turned = await client.patch(
        "/api/destinations/vault", json={"archive": None, "telegram": {"chat_id": 5}}
    )
    assert turned.status_code == 409, turned.text
    assert "in use by destination 'clips' (archive_to)" in turned.json()["detail"]
    kept = await client.patch("/api/destinations/vault", json={"archive": {"keep_days": 3}})
    assert kept.status_code == 200, kept.text
    vault_settings = stored(catalog, "vault")
    assert vault_settings is not None
    assert vault_settings.archive is not None
    assert vault_settings.archive.keep_days == 3

    for name, status in (("filed", 409), ("nowhere", 404)):
        answer = await client.patch(f"/api/destinations/{name}", json={"link": True})
        assert answer.status_code == status, answer.text
    filed = await client.patch("/api/destinations/filed", json={"link": True})
    assert "comes from the config file" in filed.json()["detail"]
    assert "change it there" in filed.json()["detail"]
    assert ["body", "colour"] in locations(
        await client.patch("/api/destinations/clips", json={"colour": "red"})
    )


async def test_a_destination_in_use_is_not_removed(
    client: httpx.AsyncClient, catalog: Runtime, tmp_path: Path
) -> None:
    await client.post("/api/destinations", json={"name": "clips", "telegram": {"chat_id": 1}})
    await client.post("/api/sources", json={"tiktok": "@alice", "to": ["clips"]})
    await client.post("/api/sources", json={"tiktok": "@bob", "to": ["clips"]})
    await client.patch("/api/sources/@bob", json={"paused": True})
    in_use = await client.delete("/api/destinations/clips")
    assert in_use.status_code == 409
    assert in_use.json()["detail"] == (
        "destination 'clips' is in use by tiktok:@alice, tiktok:@bob: remove those sources first"
    )
    await client.delete("/api/sources/@alice")
    await client.delete("/api/sources/@bob")
    removed = await client.delete("/api/destinations/clips")
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"name": "clips"}
    assert stored(catalog, "clips") is None
    assert (await client.delete("/api/destinations/clips")).status_code == 404
    filed = await client.delete("/api/destinations/filed")
    assert filed.status_code == 409
    assert "comes from the config file" in filed.json()["detail"]


async def test_cookie_changes_need_the_csrf_header(
    browser: httpx.AsyncClient, user: Browser, catalog: Runtime
) -> None:
    body = {"name": "clips", "telegram": {"chat_id": 1}}
    refused = await browser.post("/api/destinations", json=body, headers=user.cookie)
    assert refused.status_code == 403
    assert stored(catalog, "clips") is None
    made = await browser.post("/api/destinations", json=body, headers=user.changing)
    assert made.status_code == 201, made.text


async def test_under_serve_the_reposter_routes_to_a_destination_added_and_so_does_another_worker(
    tmp_path: Path, database_url: str | None
) -> None:
    settings = load_settings(
        None,
        state_dir=str(tmp_path / "serve"),
        database_url=database_url,
        telegram={"bot_token": BOT_TOKEN},
    )
    with Runtime.open(settings) as serving, Runtime.open(settings) as worker:
        routes = serving.reposter.routes if serving.reposter else None
        elsewhere = worker.reposter.routes if worker.reposter else None
        assert routes is not None
        assert elsewhere is not None
        app = create_app(serving, SecretStr(TOKEN))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://web", headers=AUTH
        ) as web:
            body = {"name": "clips", "telegram": {"chat_id": -100123}}
            assert (await web.post("/api/destinations", json=body)).status_code == 201
            assert routes.route("clips").chat == "-100123"  # this process's reposter at once
            # A worker of another process reads the catalog again when a job names it.
            assert not elsewhere.knows(destination="clips")
            elsewhere.reload()
            assert elsewhere.route("clips").chat == "-100123"

            edited = await web.patch("/api/destinations/clips", json={"telegram": {"chat_id": 7}})
            assert edited.status_code == 200, edited.text
            assert routes.route("clips").chat == "7"
            # An archive this process cannot open is refused before it is written.
            bucket = {"name": "bucket", "archive": {"url": "az://container/prefix"}}
            refused = await web.post("/api/destinations", json=bucket)
            assert ["body", "archive"] in locations(refused)
            assert serving.catalog().destination("bucket") is None
            assert (await web.delete("/api/destinations/clips")).status_code == 200
            assert not routes.knows(destination="clips")


# -- the page -------------------------------------------------------------------------------------


async def form(
    web: httpx.AsyncClient, user: Browser, action: str, **fields: object
) -> httpx.Response:
    return await web.post(action, data={"csrf": user.csrf, **fields}, headers=user.cookie)


async def test_the_page_adds_edits_and_removes_destinations(
    browser: httpx.AsyncClient, user: Browser, catalog: Runtime, tmp_path: Path
) -> None:
    page = await browser.get("/destinations", headers=user.cookie)
    assert page.status_code == 200
    assert 'href="/destinations" aria-current="page"' in page.text
    assert "from the config file" in page.text  # filed: no edit, no remove
    assert 'action="/destinations/filed/remove"' not in page.text

    vault = tmp_path / "vault"
    added = await form(
        browser, user, "/destinations", kind="archive", name="vault", path=str(vault)
    )
    assert (added.status_code, added.headers["location"]) == (
        303,
        "/destinations?done=added&name=vault",
    )
    added = await form(
        browser,
        user,
        "/destinations",
        kind="telegram",
        name="clips",
        chat_id="-100123",
        topic_id="5",
        link="on",
        slideshow="both",
        archive_to="vault",
    )
    assert added.status_code == 303, added.text
    shown = await browser.get(added.headers["location"], headers=user.cookie)
    assert "Added destination clips." in shown.text
    assert "chat -100123, topic 5" in shown.text
    # Unchecked, slideshow_audio is stored false; what was left empty is not stored.
    assert stored(catalog, "clips") == DestinationSettings.model_validate(
        {
            "telegram": {"chat_id": -100123, "topic_id": 5, "slideshow": "both"},
            "link": True,
            "slideshow_audio": False,
            "archive_to": "vault",
        }
    )
    assert stored(catalog, "vault") == DestinationSettings.model_validate(
        {"archive": {"path": str(vault)}}
    )

    edit = await browser.get("/destinations/clips/edit", headers=user.cookie)
    assert edit.status_code == 200
    assert 'value="-100123"' in edit.text
    assert '<option value="both" selected>' in edit.text
    assert '<option value="vault" selected>' in edit.text
    edited = await form(
        browser,
        user,
        "/destinations/clips/edit",
        chat_id="@clips",
        caption="{{ text }}",
        slideshow_audio="on",
    )
    assert edited.headers["location"] == "/destinations?done=edited&name=clips"
    assert stored(catalog, "clips") == DestinationSettings.model_validate(
        {"telegram": {"chat_id": "@clips"}, "caption": "{{ text }}"}
    )
    kept = await form(browser, user, "/destinations/vault/edit", path=str(vault), keep_days="30")
    assert kept.status_code == 303, kept.text
    vault_settings = stored(catalog, "vault")
    assert vault_settings is not None
    assert vault_settings.archive is not None
    assert vault_settings.archive.keep_days == 30

    await form(browser, user, "/sources", tiktok="@bob", to="clips")
    in_use = await form(browser, user, "/destinations/clips/remove")
    assert in_use.status_code == 409
    assert "destination &#39;clips&#39; is in use by tiktok:@bob" in in_use.text
    catalog.catalog().remove_source("@bob")
    removed = await form(browser, user, "/destinations/clips/remove")
    assert removed.headers["location"] == "/destinations?done=removed&name=clips"
    assert stored(catalog, "clips") is None
    read_only = await form(browser, user, "/destinations/filed/remove")
    assert read_only.status_code == 409
    assert "comes from the config file" in read_only.text
    assert (await browser.get("/destinations/nowhere/edit", headers=user.cookie)).status_code == 404


@pytest.mark.parametrize(
    ("fields", "status", "message", "invalid"),
    [
        ({"kind": "telegram", "name": "", "chat_id": "1"}, 422, "name: enter a name", "name"),
        ({"kind": "telegram", "name": "x"}, 422, "chat_id: enter the chat", "chat_id"),
        (
            {"kind": "telegram", "name": "x", "chat_id": "the-group"},
            422,
            "chat_id: write a numeric chat id",
            "chat_id",
        ),
        (
            {"kind": "telegram", "name": "x", "chat_id": "1", "topic_id": "five"},
            422,
            "topic_id: &#39;five&#39; is not a whole number",
            "topic_id",
        ),
        (
            {"kind": "telegram", "name": "x", "chat_id": "1", "caption": "{{ text "},
            422,
            "caption: line 1",
            "caption",
        ),
        ({"kind": "archive", "name": "x"}, 422, "path: enter a folder", "path"),
        (
            {"kind": "archive", "name": "x", "url": "ftp://b/p"},
            422,
            "is not an archive address",
            None,
        ),
        ({"kind": "telegram", "name": "filed", "chat_id": "1"}, 409, "config file", None),
        ({"kind": "other", "name": "x"}, 422, "kind: add a Telegram chat or an archive", None),
    ],
)
async def test_a_refused_destination_says_which_field_and_keeps_the_form(
    browser: httpx.AsyncClient,
    user: Browser,
    catalog: Runtime,
    fields: dict[str, str],
    status: int,
    message: str,
    invalid: str | None,
) -> None:
    answer = await form(browser, user, "/destinations", **fields)
    assert answer.status_code == status, answer.text
    assert message in answer.text
    assert 'role="alert" id="problem"' in answer.text
    if invalid is not None:
        marked = re.search(rf'<(?:input|textarea)[^>]*name="{invalid}"[^>]*>', answer.text)
        assert marked is not None
        assert 'aria-invalid="true"' in marked.group(0)
    if fields.get("name") and fields["kind"] in ("telegram", "archive"):
        assert f'value="{fields["name"]}"' in answer.text  # the form it came from, filled
    assert [e.name for e in catalog.catalog().destination_entries()] == ["filed"]


async def test_a_refused_edit_shows_the_form_again(
    browser: httpx.AsyncClient, user: Browser, catalog: Runtime
) -> None:
    catalog.catalog().add_destination("clips", -100123, origin="web")
    answer = await form(browser, user, "/destinations/clips/edit", chat_id="-100123", topic_id="0")
    assert answer.status_code == 422
    assert "telegram.topic_id: Input should be greater than or equal to 1" in answer.text
    assert 'value="0"' in answer.text
    read_only = await form(browser, user, "/destinations/filed/edit", chat_id="1")
    assert read_only.status_code == 409
    assert "comes from the config file" in read_only.text


async def test_destination_forms_need_the_csrf_value_and_a_login(
    browser: httpx.AsyncClient, user: Browser, catalog: Runtime
) -> None:
    fields = {"kind": "telegram", "name": "clips", "chat_id": "1"}
    for csrf in ("", "not-the-token"):
        answer = await browser.post(
            "/destinations", data={"csrf": csrf, **fields}, headers=user.cookie
        )
        assert answer.status_code == 403
        assert "Nothing was changed" in answer.text
    assert stored(catalog, "clips") is None
    for path in ("/destinations", "/destinations/filed/edit"):
        assert (await browser.get(path)).headers["location"] == "/login"
    stranger = await browser.post("/destinations/filed/remove")
    assert stranger.headers["location"] == "/login"
