"""``PATCH /api/settings`` and the settings page's form write the non-secret settings into the
config file the process was started with, in place, its comments kept; they take effect at the
next start, and until then the page and ``GET /api/settings`` mark them. Refused with nothing
written, naming the key: a value the settings refuse, a secret, the catalog, an unknown key
(422); a key the environment sets, or no config file (409); a form without its CSRF value, or a
session's PATCH without its CSRF header (403). On SQLite and PostgreSQL alike, and walked by
schemathesis with random input: no 5xx, every answer as the OpenAPI document declares it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.web import AUTH, TOKEN
from tests.support.web.browser import META, Browser, cookieless, log_in
from tikrelay.config import load_settings
from tikrelay.runtime.app import Runtime
from tikrelay.web.app import create_app

COMMENTED = """\
# tikrelay, as I like it
state_dir: {state}        # the database and the media
{database}
jobs:
  max_attempts: 5         # five tries is plenty
  # keep_days: 7          # the default
  poll_interval_seconds: 0.05

delivery:
  downloads: 3            # at once
"""


@pytest.fixture
def config_file(tmp_path: Path, database_url: str | None) -> Path:
    path = tmp_path / "tikrelay.yaml"
    database = f"database_url: {database_url}" if database_url else "# database_url: SQLite"
    path.write_text(COMMENTED.format(state=tmp_path / "state", database=database), encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def filed(config_file: Path) -> Iterator[Runtime]:
    """A runtime started from the config file, as ``tikrelay web --config FILE`` starts it."""
    with Runtime.open(load_settings(config_file), config_file=config_file, reposter=False) as found:
        yield found


@pytest.fixture
async def web(filed: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A browser's client (no cookie kept) of the app over the runtime with the file."""
    async with cookieless(create_app(filed, SecretStr(TOKEN))) as client:
        yield client


@pytest.fixture
async def user(web: httpx.AsyncClient) -> Browser:
    return await log_in(web)


def raw(path: Path) -> bytes:
    """The config file as it is on disk (a few hundred bytes: read in place)."""
    return path.read_bytes()


def mode_of(path: Path) -> int:
    return path.stat().st_mode & 0o777


def text_of(path: Path) -> str:
    return raw(path).decode("utf-8")


async def patch(web: httpx.AsyncClient, values: dict[str, Any]) -> httpx.Response:
    return await web.patch("/api/settings", json={"settings": values}, headers=AUTH)


async def test_a_write_keeps_the_comments_and_waits_for_a_restart(
    web: httpx.AsyncClient, config_file: Path
) -> None:
    answer = await patch(web, {"jobs.max_attempts": 7, "delivery.keep_media_hours": 12})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "written": ["jobs.max_attempts", "delivery.keep_media_hours"],
        "config_file": str(config_file),
        "restart_needed": True,
        "pending": {"jobs.max_attempts": "7", "delivery.keep_media_hours": "12.0"},
    }
    text = text_of(config_file)
    assert "  max_attempts: 7         # five tries is plenty\n" in text
    assert "  # keep_days: 7          # the default\n" in text
    assert "  downloads: 3            # at once\n  keep_media_hours: 12\n" in text
    assert text.startswith("# tikrelay, as I like it\n")
    assert oct(mode_of(config_file)) == oct(0o600)
    shown = (await web.get("/api/settings", headers=AUTH)).json()
    assert shown["settings"]["jobs.max_attempts"] == "5"  # in force until the restart
    assert shown["pending"] == {"jobs.max_attempts": "7", "delivery.keep_media_hours": "12.0"}
    assert shown["config_problem"] is None
    again = await patch(web, {"jobs.max_attempts": 5})  # back to what is in force
    assert again.json()["restart_needed"] is True
    assert again.json()["pending"] == {"delivery.keep_media_hours": "12.0"}
    back = await patch(web, {"delivery.keep_media_hours": 24})  # the default, in force
    assert (back.json()["restart_needed"], back.json()["pending"]) == (False, {})


@pytest.mark.parametrize(
    ("values", "key", "says"),
    [
        ({"jobs.max_attempts": 5000}, "jobs.max_attempts", "less than or equal to 1000"),
        ({"jobs.max_attempts": True}, "jobs.max_attempts", "true is not a number"),
        ({"web.listen": "0.0.0.0:8080"}, "web.listen", "in the config file by hand"),
        ({"telegram.api_url": "https://elsewhere.example"}, "telegram.api_url", "by hand"),
        ({"telegram.bot_token": "123:abc"}, "telegram.bot_token", "TELEGRAM_BOT_TOKEN"),
        ({"sources": []}, "sources", "/api/sources"),
        ({"destinations.clips.link": True}, "destinations.clips.link", "destinations add"),
        ({"jobs.max_atempts": 7}, "jobs.max_atempts", "did you mean jobs.max_attempts?"),
        ({"jobs": {"max_attempts": 7}}, "jobs", "is a section"),
    ],
)
async def test_a_refused_write_names_the_key_and_writes_nothing(
    web: httpx.AsyncClient, config_file: Path, values: dict[str, Any], key: str, says: str
) -> None:
    before = raw(config_file)
    answer = await patch(web, {"delivery.downloads": 4, **values})
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["body", "settings", key]
    assert says in problem["msg"]
    assert raw(config_file) == before


async def test_a_key_the_environment_sets_is_a_conflict(
    web: httpx.AsyncClient, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = raw(config_file)
    monkeypatch.setenv("TIKRELAY_DELIVERY__DOWNLOADS", "2")
    answer = await patch(web, {"delivery.downloads": 4})
    assert answer.status_code == 409
    assert answer.json()["detail"].startswith(
        "delivery.downloads is set by TIKRELAY_DELIVERY__DOWNLOADS in the environment"
    )
    assert raw(config_file) == before
    page = await web.get("/settings", headers=AUTH)
    assert 'name="delivery.downloads"' not in page.text
    assert "set by TIKRELAY_DELIVERY__DOWNLOADS in the environment" in page.text


async def test_without_a_config_file_it_is_a_conflict(client: httpx.AsyncClient) -> None:
    answer = await client.patch("/api/settings", json={"settings": {"jobs.max_attempts": 7}})
    assert answer.status_code == 409
    assert "start it with --config FILE" in answer.json()["detail"]
    page = await client.get("/settings")
    assert "<form" not in page.text.split("<main", 1)[1]
    assert "start tikrelay\n  with <code>--config FILE</code>" in page.text
    found = META.search(page.text)
    assert found is not None
    posted = await client.post("/settings", data={"csrf": found.group(1), "jobs.max_attempts": "7"})
    assert posted.status_code == 409
    assert "start it with --config FILE" in posted.text


async def test_a_session_writes_with_its_csrf_header_only(
    web: httpx.AsyncClient, user: Browser, config_file: Path
) -> None:
    before = raw(config_file)
    body = {"settings": {"jobs.max_attempts": 8}}
    bare = await web.patch("/api/settings", json=body, headers=user.cookie)
    assert bare.status_code == 403
    assert raw(config_file) == before
    sent = await web.patch("/api/settings", json=body, headers=user.changing)
    assert sent.status_code == 200
    assert load_settings(config_file).jobs.max_attempts == 8


def field(page: str, key: str) -> str:
    """The value a field of the settings form shows."""
    found = re.search(rf'name="{re.escape(key)}" value="([^"]*)"', page)
    assert found is not None, key
    return found.group(1)


async def test_the_form_saves_what_was_changed(
    web: httpx.AsyncClient, user: Browser, config_file: Path
) -> None:
    page = (await web.get("/settings", headers=user.cookie)).text
    assert field(page, "jobs.max_attempts") == "5"
    assert field(page, "delivery.keep_media_hours") == "24"  # the default, not in the file
    assert 'name="telegram.bot_token"' not in page  # a secret has no field
    assert re.search(r"<code>telegram.bot_token</code></th><td>unset<", page)
    fields = {"jobs.max_attempts": "6", "delivery.keep_media_hours": "24", "web.auth": "token"}
    answer = await web.post("/settings", data={"csrf": user.csrf, **fields}, headers=user.cookie)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/settings?saved=jobs.max_attempts"
    text = text_of(config_file)
    assert "  max_attempts: 6         # five tries is plenty\n" in text
    assert "keep_media_hours" not in text  # unchanged fields are not written
    assert "auth" not in text
    after = (await web.get(answer.headers["location"], headers=user.cookie)).text
    assert f"Saved jobs.max_attempts in {config_file}: in force when tikrelay restarts" in after
    assert field(after, "jobs.max_attempts") == "6"
    assert re.search(
        r'id="note-jobs.max_attempts"><span class="tag pending">saved</span> in force until a '
        r"restart: 5<",
        after,
    )
    assert "1 saved setting\n  waiting for a restart" in after
    same = await web.post("/settings", data={"csrf": user.csrf, **fields}, headers=user.cookie)
    assert same.headers["location"] == "/settings?saved="


async def test_the_form_refuses_without_its_csrf_value_or_with_a_bad_value(
    web: httpx.AsyncClient, user: Browser, config_file: Path
) -> None:
    before = raw(config_file)
    forged = await web.post("/settings", data={"jobs.max_attempts": "9"}, headers=user.cookie)
    assert forged.status_code == 403
    wrong = await web.post(
        "/settings", data={"csrf": "not-it", "jobs.max_attempts": "9"}, headers=user.cookie
    )
    assert wrong.status_code == 403
    assert raw(config_file) == before
    for value, says in (
        ("many", "jobs.max_attempts: &#39;many&#39; is not a whole number"),
        ("5000", "jobs.max_attempts: Input should be less than or equal to 1000"),
        ("", "jobs.max_attempts: enter a value"),
    ):
        refused = await web.post(
            "/settings",
            data={"csrf": user.csrf, "jobs.max_attempts": value},
            headers=user.cookie,
        )
        assert refused.status_code == 422, value
        assert says in refused.text
        assert re.search(
            rf'name="jobs.max_attempts" value="{value}"[^>]*aria-invalid="true"', refused.text
        )
        assert raw(config_file) == before


def test_random_writes_answer_as_documented(filed: Runtime) -> None:
    """Schemathesis sends PATCH /api/settings random bodies, valid and invalid, to an app whose
    process has a config file: whatever is written or refused, never a 5xx, and every answer
    in the declared shape."""
    app = create_app(filed, SecretStr(TOKEN))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)
    operation = schema["/api/settings"]["PATCH"]
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=40,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers(case: Any) -> None:
            case.call_and_validate(headers=AUTH, checks=checks)

        answers()
    # The example of the document was written, and the file still loads.
    assert load_settings(filed.config_file).jobs.max_attempts == 7
