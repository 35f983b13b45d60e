"""A TikTok account as a destination on the web: ``/api/destinations`` lists, adds and edits it
with its kind and settings (never a token), and the destinations page shows it as an account,
not a chat, adds and edits it with its own form, and names the accounts that ``tikrelay
tiktok-auth`` has not authorized yet."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from tests.integration.web.test_web_destinations import form
from tests.support.web.browser import Browser, log_in
from tikrelay.config.settings import DestinationSettings
from tikrelay.destinations.tiktok_auth import TokenBox, Tokens
from tikrelay.reposter.tiktok_accounts import sealed_account
from tikrelay.runtime.app import Runtime
from tikrelay.store import catalog_sql, tiktok_sql

ACCESS = "act.web-test-access-token-never-shown"
REFRESH = "rft.web-test-refresh-token-never-shown"


def authorize(runtime: Runtime, account: str) -> str:
    """A row in tiktok_accounts, as ``tikrelay tiktok-auth`` stores it; its sealed text."""
    now = datetime.now(UTC)
    tokens = Tokens("open-1", "video.upload", ACCESS, REFRESH, now + timedelta(days=1), now)
    row = sealed_account(account, tokens, TokenBox("a secret key for the web test"))
    with runtime.queue.engine.begin() as conn:
        tiktok_sql.save_account(conn, row, now)
    return row.sealed


def stored(runtime: Runtime, name: str) -> dict[str, object]:
    with runtime.queue.engine.connect() as conn:
        row = catalog_sql.destination(conn, name)
    assert row is not None
    return dict(row.settings)


async def test_the_api_adds_lists_and_edits_an_account_and_never_shows_a_token(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = {
        "name": "mirror",
        "tiktok": {"account": "main", "mode": "direct", "privacy_level": "SELF_ONLY"},
    }
    added = await client.post("/api/destinations", json=body)
    assert added.status_code == 201, added.text
    shown = added.json()
    assert (shown["kind"], shown["chat_id"], shown["archive"]) == ("tiktok", None, None)
    assert shown["tiktok"] == {
        "account": "main",
        "mode": "direct",
        "privacy_level": "SELF_ONLY",
        "credit": True,
    }
    # Only what was given is stored: defaults apply to the rest.
    assert stored(runtime, "mirror") == {"tiktok": body["tiktok"]}
    sealed = authorize(runtime, "main")
    routed = await client.post("/api/sources", json={"tiktok": "@alice", "to": ["mirror"]})
    assert routed.status_code == 201, routed.text

    listed = await client.get("/api/destinations")
    assert listed.status_code == 200
    [mirror] = listed.json()["destinations"]
    assert (mirror["name"], mirror["kind"], mirror["sources"]) == ("mirror", "tiktok", 1)
    assert mirror["tiktok"]["account"] == "main"
    for secret in (ACCESS, REFRESH, sealed):
        assert secret not in listed.text

    patch = {"tiktok": {"mode": None, "privacy_level": None, "credit": False}}
    edited = await client.patch("/api/destinations/mirror", json=patch)
    assert edited.status_code == 200, edited.text
    assert edited.json()["tiktok"] == {
        "account": "main",
        "mode": "inbox",
        "privacy_level": None,
        "credit": False,
    }
    assert stored(runtime, "mirror") == {"tiktok": {"account": "main", "credit": False}}


async def test_the_api_refuses_what_an_account_cannot_take_naming_the_field(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    caption = {"name": "x", "tiktok": {"account": "main"}, "caption": "{{ text }}"}
    answer = await client.post("/api/destinations", json=caption)
    assert answer.status_code == 422, answer.text
    assert "caption: belongs to a telegram destination, not to a TikTok account" in answer.text
    both = {"name": "x", "tiktok": {"account": "main"}, "telegram": {"chat_id": -100123}}
    answer = await client.post("/api/destinations", json=both)
    assert answer.status_code == 422, answer.text
    assert "give exactly one of telegram" in answer.text
    nameless = await client.post("/api/destinations", json={"name": "x", "tiktok": {}})
    assert nameless.status_code == 422
    assert [e["loc"] for e in nameless.json()["detail"]] == [["body", "tiktok", "account"]]
    public = {"name": "x", "tiktok": {"account": "main", "privacy_level": "EVERYONE"}}
    assert (await client.post("/api/destinations", json=public)).status_code == 422
    assert runtime.catalog().destination_entries() == []


async def test_the_page_shows_adds_and_edits_an_account_and_names_the_unauthorized(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    user = await log_in(browser)
    page = await browser.get("/destinations", headers=user.cookie)
    assert "Add a TikTok account" in page.text
    assert "tikrelay tiktok-auth ACCOUNT" in page.text

    added = await form(
        browser, user, "/destinations", kind="tiktok", name="mirror", account="main", mode="direct"
    )
    assert (added.status_code, added.headers["location"]) == (
        303,
        "/destinations?done=added&name=mirror",
    )
    # credit left unchecked: stored false; what was left empty is not stored.
    assert stored(runtime, "mirror") == {
        "tiktok": {"account": "main", "mode": "direct", "credit": False}
    }
    shown = await browser.get(added.headers["location"], headers=user.cookie)
    assert "Added destination mirror." in shown.text
    assert "TikTok account main, direct (most private offered)" in shown.text
    assert "chat None" not in shown.text
    assert "the post's text, no credit" in shown.text
    assert "not authorized" in shown.text
    assert "run <code>tikrelay tiktok-auth main</code> on the server" in shown.text

    edit = await browser.get("/destinations/mirror/edit", headers=user.cookie)
    assert edit.status_code == 200
    assert '<span class="kind">TikTok account</span>' in edit.text
    assert 'name="account" required value="main"' in edit.text
    assert '<option value="direct" selected>' in edit.text
    assert 'name="chat_id"' not in edit.text
    credit = re.search(r'<input type="checkbox" name="credit"[^>]*>', edit.text)
    assert credit is not None
    assert "checked" not in credit.group(0)
    assert "tikrelay tiktok-auth main" in edit.text

    edited = await form(
        browser,
        user,
        "/destinations/mirror/edit",
        account="main",
        privacy_level="SELF_ONLY",
        credit="on",
    )
    assert edited.headers["location"] == "/destinations?done=edited&name=mirror"
    assert runtime.catalog().destination("mirror") == DestinationSettings.model_validate(
        {"tiktok": {"account": "main", "privacy_level": "SELF_ONLY"}}
    )

    authorize(runtime, "main")
    after = await browser.get("/destinations", headers=user.cookie)
    assert "TikTok account main, inbox" in after.text
    assert "the post's text, credit" in after.text
    assert "not authorized" not in after.text
    assert ACCESS not in after.text


async def test_a_refused_account_says_which_field_and_keeps_the_form(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    user: Browser = await log_in(browser)
    empty = await form(browser, user, "/destinations", kind="tiktok", name="mirror", account=" ")
    assert empty.status_code == 422
    assert "account: enter the account&#39;s name" in empty.text
    marked = re.search(r'<input[^>]*name="account"[^>]*>', empty.text)
    assert marked is not None
    assert 'aria-invalid="true"' in marked.group(0)
    assert 'value="mirror"' in empty.text  # the form it came from, filled
    wrong = await form(
        browser,
        user,
        "/destinations",
        kind="tiktok",
        name="mirror",
        account="main",
        privacy_level="EVERYONE",
    )
    assert wrong.status_code == 422
    assert "tiktok.privacy_level: Input should be" in wrong.text
    assert runtime.catalog().destination_entries() == []
