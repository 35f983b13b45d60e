"""The token locks every route but the probes and the login page: the OpenAPI document is
walked, and each of its operations, plus the document itself, Swagger UI and its files, answers
401 without the token (or a session); ``/`` sends a stranger to the login page."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.web import TOKEN
from tikrelay.runtime.app import Runtime
from tikrelay.web.app import create_app

OPEN = {"/healthz", "/readyz"}
#: Routes outside the OpenAPI document (it does not describe itself nor Swagger UI).
UNDOCUMENTED = ["/openapi.json", "/docs", "/assets/swagger-ui/swagger-ui-bundle.js"]


async def operations(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    document = (await client.get("/openapi.json")).json()
    found = [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, item in document["paths"].items()
        for method in item
    ]
    assert ("GET", "/metrics") in found
    assert ("POST", "/api/jobs/1/cancel") in found
    assert ("PATCH", "/api/sources/1") in found
    assert ("POST", "/api/requests") in found
    return found


async def test_every_route_but_the_probes_needs_the_token(
    client: httpx.AsyncClient, stranger: httpx.AsyncClient
) -> None:
    walked = await operations(client)
    locked = [(m, p) for m, p in walked if p not in OPEN] + [("GET", p) for p in UNDOCUMENTED]
    assert len(locked) >= 8
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": TOKEN},
    ):
        for method, path in locked:
            answer = await stranger.request(method, path, headers=headers)
            assert answer.status_code == 401, (method, path, headers)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert "TIKRELAY_WEB_TOKEN" in answer.json()["detail"]
            assert TOKEN not in answer.text
    for method, path in [(m, p) for m, p in walked if p in OPEN]:
        answer = await stranger.request(method, path)
        assert answer.status_code in (200, 503), (method, path)
    # The login page (outside the document) is open, and so is its style sheet.
    assert (await stranger.get("/login")).status_code == 200
    assert (await stranger.post("/login")).status_code == 403  # no form CSRF value: no try
    assert (await stranger.get("/assets/site.css")).status_code == 200
    home = await stranger.get("/")
    assert (home.status_code, home.headers["location"]) == (303, "/login")


async def test_the_document_declares_the_bearer_scheme(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The value of TIKRELAY_WEB_TOKEN, as `Authorization: Bearer <token>`.",
    }
    assert document["components"]["securitySchemes"]["session"]["in"] == "cookie"
    # Either one: the token, or the login page's session cookie.
    assert document["paths"]["/api/jobs"]["get"]["security"] == [{"token": []}, {"session": []}]
    assert "security" not in document["paths"]["/healthz"]["get"]


@pytest.mark.parametrize("header", ["Bearer " + TOKEN + "x", "Bearer " + TOKEN[:-1], "Basic abc"])
async def test_near_misses_are_refused(stranger: httpx.AsyncClient, header: str) -> None:
    answer = await stranger.get("/api/jobs", headers={"Authorization": header})
    assert answer.status_code == 401


async def test_the_right_token_in_any_case_of_the_scheme(stranger: httpx.AsyncClient) -> None:
    answer = await stranger.get("/api/jobs", headers={"Authorization": f"bearer {TOKEN}"})
    assert answer.status_code == 200


async def test_auth_none_opens_the_api(runtime: Runtime) -> None:
    transport = httpx.ASGITransport(app=create_app(runtime, None))
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        assert (await web.get("/api/jobs")).status_code == 200
        assert (await web.get("/metrics")).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 404),  # a script or curl: in (the job does not exist)
        ({"Sec-Fetch-Site": "same-origin"}, 404),  # the dashboard's own page
        ({"Origin": "http://web"}, 404),
        ({"Sec-Fetch-Site": "cross-site"}, 403),  # another site's page, through the browser
        ({"Sec-Fetch-Site": "same-site"}, 403),  # another port of this host is another site
        ({"Origin": "http://evil.example"}, 403),  # an older browser: by its Origin
        ({"Origin": "null"}, 403),  # a sandboxed frame or a file
    ],
)
async def test_auth_none_refuses_changes_asked_by_other_sites(
    runtime: Runtime, headers: dict[str, str], status: int
) -> None:
    """A page of any site the user visits could post to a dashboard on 127.0.0.1: without a
    token to check, the browser's own headers tell."""
    transport = httpx.ASGITransport(app=create_app(runtime, None))
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        answer = await web.post("/api/jobs/999999/cancel", headers=headers)
        assert answer.status_code == status, answer.text
        assert (await web.get("/api/jobs", headers=headers)).status_code == 200  # reads stay
