"""A browser's side of the login page, step by step: the form's hidden CSRF value, its cookies
as the server set them (read from Set-Cookie, attributes included), logging in; a client that
keeps no cookie, and the app's clock moved by the test."""

from __future__ import annotations

import re
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from http.cookies import SimpleCookie

import httpx
from fastapi import FastAPI

from tests.support.web import TOKEN

FIELD = re.compile(r'name="csrf" value="([^"]+)"')
META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class Clock:
    """The app's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cookieless(app: FastAPI, base_url: str = "http://web") -> httpx.AsyncClient:
    """A client that keeps no cookie: each test sends exactly the cookies it means to."""
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url, cookies=jar)


def set_cookies(answer: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header of the answer, by cookie name: the whole header line."""
    found = {}
    for line in answer.headers.get_list("set-cookie"):
        found[line.split("=", 1)[0]] = line
    return found


def cookie_value(line: str) -> str:
    parsed: SimpleCookie = SimpleCookie()
    parsed.load(line)
    (morsel,) = parsed.values()
    return morsel.value


@dataclass
class LoginForm:
    csrf: str  # the hidden field
    cookie: str  # the login cookie's value


async def open_form(web: httpx.AsyncClient) -> LoginForm:
    page = await web.get("/login")
    assert page.status_code == 200, page.text
    found = FIELD.search(page.text)
    assert found is not None
    return LoginForm(found.group(1), cookie_value(set_cookies(page)["tikrelay_login"]))


async def post_login(
    web: httpx.AsyncClient, token: str, form: LoginForm | None = None
) -> httpx.Response:
    form = form or await open_form(web)
    return await web.post(
        "/login",
        data={"token": token, "csrf": form.csrf},
        headers={"Cookie": f"tikrelay_login={form.cookie}"},
    )


@dataclass
class Browser:
    """A logged-in browser: its session cookie and the CSRF token of its pages."""

    session: str
    csrf: str

    @property
    def cookie(self) -> dict[str, str]:
        return {"Cookie": f"tikrelay_session={self.session}"}

    @property
    def changing(self) -> dict[str, str]:
        """The headers of a request that changes something."""
        return {**self.cookie, "X-CSRF-Token": self.csrf}


async def log_in(web: httpx.AsyncClient, token: str = TOKEN) -> Browser:
    answer = await post_login(web, token)
    assert answer.status_code == 303, answer.text
    session = cookie_value(set_cookies(answer)["tikrelay_session"])
    page = await web.get("/", headers={"Cookie": f"tikrelay_session={session}"})
    found = META.search(page.text)
    assert found is not None, page.text
    return Browser(session, found.group(1))
