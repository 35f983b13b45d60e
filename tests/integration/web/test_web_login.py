"""The login page: a session cookie for the right token (HttpOnly, SameSite=Strict, Secure over
https, never the token itself), a CSRF token for every form and for API requests made with the
cookie, a limit on failed logins per address, logging out, and ``/`` sending a stranger to the
login page."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from tests.support.web import AUTH, TOKEN
from tests.support.web.browser import (
    META,
    Clock,
    cookie_value,
    cookieless,
    log_in,
    open_form,
    post_login,
    set_cookies,
)
from tikrelay.runtime.app import Runtime
from tikrelay.web.app import create_app
from tikrelay.web.sessions import LOGIN_WINDOW_SECONDS, MAX_FAILED_LOGINS, SESSION_SECONDS


async def test_a_stranger_is_sent_to_the_login_page(browser: httpx.AsyncClient) -> None:
    answer = await browser.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    page = await browser.get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/login">' in page.text
    assert '<label for="token">' in page.text  # the field has its label
    assert 'type="password"' in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert (await browser.get("/assets/site.css")).status_code == 200  # before any login


async def test_the_right_token_sets_a_session_cookie(browser: httpx.AsyncClient) -> None:
    answer = await post_login(browser, TOKEN)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    line = set_cookies(answer)["tikrelay_session"]
    attributes = [part.strip().lower() for part in line.split(";")]
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert f"max-age={SESSION_SECONDS}" in attributes
    assert "secure" not in attributes  # plain http: a Secure cookie would never come back
    assert TOKEN not in answer.headers.get("set-cookie", "")
    session = cookie_value(line)
    assert len(session) >= 40
    page = await browser.get("/", headers={"Cookie": f"tikrelay_session={session}"})
    assert page.status_code == 200
    assert "<h1>Overview</h1>" in page.text
    assert TOKEN not in page.text
    assert META.search(page.text) is not None


async def test_over_https_the_cookies_are_secure(runtime: Runtime) -> None:
    app = create_app(runtime, SecretStr(TOKEN))
    async with cookieless(app, "https://web") as web:
        form_page = await web.get("/login")
        assert "secure" in set_cookies(form_page)["tikrelay_login"].lower()
        answer = await post_login(web, TOKEN)
    attributes = [p.strip().lower() for p in set_cookies(answer)["tikrelay_session"].split(";")]
    assert "secure" in attributes


async def test_a_wrong_token_is_refused_and_counted(browser: httpx.AsyncClient) -> None:
    answer = await post_login(browser, "wrong-token-0123456789")
    assert answer.status_code == 401
    assert "Wrong token." in answer.text
    assert "tikrelay_session" not in set_cookies(answer)
    assert "wrong-token-0123456789" not in answer.text


async def test_the_login_form_needs_its_csrf_value(browser: httpx.AsyncClient) -> None:
    form = await open_form(browser)
    without_cookie = await browser.post("/login", data={"token": TOKEN, "csrf": form.csrf})
    assert without_cookie.status_code == 403
    other_value = await browser.post(
        "/login",
        data={"token": TOKEN, "csrf": "forged"},
        headers={"Cookie": f"tikrelay_login={form.cookie}"},
    )
    assert other_value.status_code == 403
    for answer in (without_cookie, other_value):
        assert "tikrelay_session" not in set_cookies(answer)


async def test_failed_logins_are_limited_per_address(
    browser: httpx.AsyncClient, clock: Clock
) -> None:
    for _ in range(MAX_FAILED_LOGINS):
        assert (await post_login(browser, "wrong-token-0123456789")).status_code == 401
        clock.now += 1
    blocked = await post_login(browser, TOKEN)  # even the right token waits now
    assert blocked.status_code == 429
    wait = int(blocked.headers["retry-after"])
    assert wait == LOGIN_WINDOW_SECONDS - MAX_FAILED_LOGINS
    assert f"try again in {wait} seconds" in blocked.text
    assert "tikrelay_session" not in set_cookies(blocked)
    clock.now += wait
    assert (await post_login(browser, TOKEN)).status_code == 303


async def test_the_api_takes_the_cookie_only_with_the_csrf_token(
    browser: httpx.AsyncClient, runtime: Runtime
) -> None:
    job = runtime.service.enqueue("greet", {}, delay=3600).job
    me = await log_in(browser)
    assert (await browser.get("/api/jobs", headers=me.cookie)).status_code == 200
    refused = await browser.post(f"/api/jobs/{job.id}/cancel", headers=me.cookie)
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    forged = await browser.post(
        f"/api/jobs/{job.id}/cancel", headers={**me.cookie, "X-CSRF-Token": "forged"}
    )
    assert forged.status_code == 403
    done = await browser.post(f"/api/jobs/{job.id}/cancel", headers=me.changing)
    assert done.status_code == 200
    assert done.json()["job"]["status"] == "CANCELLED"
    # A bearer token decides alone: a wrong one is refused whatever the cookie.
    wrong = await browser.get(
        "/api/jobs", headers={**me.cookie, "Authorization": "Bearer wrong-token-0123456789"}
    )
    assert wrong.status_code == 401
    # And a bearer request needs no CSRF token.
    assert (await browser.post(f"/api/jobs/{job.id}/retry", headers=AUTH)).status_code == 200


async def test_logging_out_ends_the_session(browser: httpx.AsyncClient) -> None:
    me = await log_in(browser)
    refused = await browser.post("/logout", headers=me.cookie)  # no CSRF token
    assert refused.status_code == 403
    assert (await browser.get("/api/jobs", headers=me.cookie)).status_code == 200
    answer = await browser.post("/logout", data={"csrf": me.csrf}, headers=me.cookie)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    cleared = set_cookies(answer)["tikrelay_session"].lower()
    assert "max-age=0" in cleared
    assert (await browser.get("/api/jobs", headers=me.cookie)).status_code == 401
    assert (await browser.get("/", headers=me.cookie)).headers["location"] == "/login"


async def test_a_session_ends_after_its_time(browser: httpx.AsyncClient, clock: Clock) -> None:
    me = await log_in(browser)
    clock.now += SESSION_SECONDS
    assert (await browser.get("/api/jobs", headers=me.cookie)).status_code == 401


async def test_a_logged_in_browser_skips_the_login_form(browser: httpx.AsyncClient) -> None:
    me = await log_in(browser)
    answer = await browser.get("/login", headers=me.cookie)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


async def test_the_overview_with_the_token_and_without_auth(runtime: Runtime) -> None:
    async with cookieless(create_app(runtime, SecretStr(TOKEN))) as web:
        assert (await web.get("/", headers=AUTH)).status_code == 200
    async with cookieless(create_app(runtime, None)) as web:
        assert (await web.get("/")).status_code == 200
        assert (await web.get("/login")).headers["location"] == "/"
