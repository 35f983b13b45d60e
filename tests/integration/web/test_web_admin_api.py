"""``GET /api/settings`` and ``GET /api/logs``: the settings page and the logs page as JSON,
behind the token, with secrets as set or unset only and bad filters refused naming the field."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import structlog
from pydantic import SecretStr

from tests.support.web import AUTH, TOKEN
from tikrelay.runtime.app import Runtime
from tikrelay.web.app import create_app
from tikrelay.web.logbook import BOOK
from tikrelay.web.settings_shown import setting_rows

BOT_TOKEN = "123456789:AAEabcdefghijklmnopqrstuvwxyz"


async def test_settings_show_every_key_and_no_secret(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings.telegram, "bot_token", SecretStr(BOT_TOKEN))
    monkeypatch.setattr(runtime.settings.network, "proxies", ["socks5://me:s3cret@proxy:1080"])
    app = create_app(runtime, SecretStr(TOKEN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web", headers=AUTH) as web:
        answer = await web.get("/api/settings")
    assert answer.status_code == 200
    body = answer.json()
    assert body["web_token"] == "set"
    assert body["config_file"] is None
    shown = body["settings"]
    assert shown["telegram.bot_token"] == "set"
    assert shown["network.proxies"] == "socks5://me:[redacted]@proxy:1080"
    assert shown["web.auth"] == "token"
    assert shown["state_dir"] == str(tmp_path / "state")
    assert None in shown.values()  # a setting without a value is null, not a dash
    assert list(shown.items()) == setting_rows(runtime.settings)  # the page's rows, in order
    for secret in (BOT_TOKEN, "AAEabc", "s3cret", TOKEN):
        assert secret not in answer.text


async def test_settings_say_unset_token_with_auth_none(runtime: Runtime) -> None:
    app = create_app(runtime, None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        answer = await web.get("/api/settings")
    assert answer.status_code == 200
    assert answer.json()["web_token"] == "unset"
    assert answer.json()["settings"]["telegram.bot_token"] == "unset"


def _fresh_job_id() -> int:
    """A job id no earlier line of the process's one ring carries (other tests log too)."""
    newest = BOOK.lines(limit=1)
    return 10**12 + (newest[0].number if newest else 0)


async def test_logs_are_filtered_by_job_and_level(client: httpx.AsyncClient) -> None:
    job = _fresh_job_id()
    log = structlog.get_logger("tikrelay.test")
    log.info("api_stage_done", job_id=job, stage="DOWNLOAD")
    log.warning("api_warning", job_id=job, token="hunter2-should-not-show")
    log.info("api_other_job", job_id=job + 1)
    every = (await client.get("/api/logs", params={"job": job})).json()["lines"]
    assert [line["event"] for line in every] == ["api_warning", "api_stage_done"]
    assert every[0]["number"] > every[1]["number"]
    assert every[0]["level"] == "warning"
    assert every[0]["job_id"] == job
    assert every[0]["details"]["token"] == "[redacted]"
    assert every[1]["details"]["stage"] == "DOWNLOAD"
    warnings = await client.get("/api/logs", params={"job": job, "level": "warning"})
    assert [line["event"] for line in warnings.json()["lines"]] == ["api_warning"]
    one = await client.get("/api/logs", params={"job": job, "limit": 1})
    assert [line["event"] for line in one.json()["lines"]] == ["api_warning"]
    anyone = (await client.get("/api/logs")).json()["lines"]
    assert {"api_other_job", "api_warning"} <= {line["event"] for line in anyone}
    assert "hunter2" not in (await client.get("/api/logs")).text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"job": "abc"}, "job"),
        ({"job": "0"}, "job"),
        ({"level": "loud"}, "level"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
    ],
)
async def test_bad_log_filters_name_the_field(
    client: httpx.AsyncClient, query: dict[str, str], field: str
) -> None:
    answer = await client.get("/api/logs", params=query)
    assert answer.status_code == 422
    assert [error["loc"] for error in answer.json()["detail"]] == [["query", field]]


@pytest.mark.parametrize("path", ["/api/settings", "/api/logs"])
async def test_both_need_the_token(stranger: httpx.AsyncClient, path: str) -> None:
    answer = await stranger.get(path)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"


async def test_both_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for path, model in (("/api/settings", "SettingsOut"), ("/api/logs", "LogsOut")):
        answers = document["paths"][path]["get"]["responses"]
        schema = answers["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model}"}
        assert "401" in answers
    levels = document["components"]["schemas"]["LogLineOut"]["properties"]["level"]
    assert levels == {"type": "string", "title": "Level"}
