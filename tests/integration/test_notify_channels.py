"""The notification channels against real servers on 127.0.0.1: email through aiosmtpd (STARTTLS,
TLS from the start, plain; a login as the from address or the URL's user), an Apprise json:// URL
into an aiohttp server, and the admins' Telegram chat through the Bot API emulator. Failures come
back classified, and never carry the password or the URL's tokens."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.support.smtp import smtp_server
from tikrelay.config.notify_settings import EmailSettings
from tikrelay.destinations.notifiers import AppriseChannel, EmailChannel, TelegramChannel
from tikrelay.destinations.pacer import FloodPacer
from tikrelay.destinations.telegram import TelegramSender
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.sandbox.telegram import TelegramEmulator

PASSWORD = "s3cret-smtp-pa55"
FROM = "tikrelay@example.org"


def email_settings(url: str, to: list[str] | None = None) -> EmailSettings:
    return EmailSettings.model_validate(
        {"smtp_url": url, "from": FROM, "to": to or ["admin@example.org", "ops@example.org"]}
    )


async def test_starttls_upgrades_then_logs_in_as_the_from_address() -> None:
    with smtp_server("starttls", user=FROM, password=PASSWORD) as server:
        channel = EmailChannel(
            email_settings(f"smtp://127.0.0.1:{server.port}"),
            PASSWORD,
            tls_context=server.client_context(),
        )
        await channel.send("TikTok source @alice is failing", "It failed: update yt-dlp.")
        [got] = server.wait_for(1)
    assert got.tls
    assert got.login == FROM
    assert server.logins == [(FROM, True)]
    assert got.mail_from == FROM
    assert got.rcpt_tos == ["admin@example.org", "ops@example.org"]
    assert got.message["Subject"] == "tikrelay: TikTok source @alice is failing"
    assert got.message["From"] == FROM
    assert got.message["To"] == "admin@example.org, ops@example.org"
    assert got.message.get_content().strip() == "It failed: update yt-dlp."
    assert got.message["Message-ID"].endswith("@example.org>")


async def test_a_from_with_a_display_name_logs_in_as_its_address() -> None:
    with smtp_server("starttls", user=FROM, password=PASSWORD) as server:
        settings = EmailSettings.model_validate(
            {
                "smtp_url": f"smtp://127.0.0.1:{server.port}",
                "from": f"Relay <{FROM}>",
                "to": ["admin@example.org"],
            }
        )
        channel = EmailChannel(settings, PASSWORD, tls_context=server.client_context())
        await channel.send("test", "Hello.")
        [got] = server.wait_for(1)
    assert got.login == FROM
    assert got.mail_from == FROM
    assert got.message["From"] == f"Relay <{FROM}>"
    assert got.message["Message-ID"].endswith("@example.org>")


async def test_smtps_is_tls_from_the_start_and_the_url_user_logs_in() -> None:
    with smtp_server("tls", user="mailer", password=PASSWORD) as server:
        channel = EmailChannel(
            email_settings(f"smtps://mailer@127.0.0.1:{server.port}", ["a@example.org"]),
            PASSWORD,
            tls_context=server.client_context(),
        )
        await channel.send("daily summary", "Delivered: 3.")
        [got] = server.wait_for(1)
    assert got.tls
    assert got.login == "mailer"
    assert got.rcpt_tos == ["a@example.org"]
    assert got.message.get_content().strip() == "Delivered: 3."


async def test_without_a_password_there_is_no_login() -> None:
    with smtp_server("plain") as server:
        channel = EmailChannel(email_settings(f"smtp://127.0.0.1:{server.port}"), None)
        await channel.send("disk nearly full", "free some space")
        [got] = server.wait_for(1)
    assert not got.tls
    assert got.login is None
    assert server.logins == []


async def test_a_wrong_password_is_an_auth_error_without_the_password() -> None:
    with smtp_server("starttls", user=FROM, password="the-right-one") as server:
        channel = EmailChannel(
            email_settings(f"smtp://127.0.0.1:{server.port}"),
            PASSWORD,
            tls_context=server.client_context(),
        )
        with pytest.raises(TikrelayError) as caught:
            await channel.send("t", "x")
    assert caught.value.kind is ErrorKind.AUTH
    assert caught.value.retryable is False
    assert FROM in caught.value.message
    assert "TIKRELAY_SMTP_PASSWORD" in caught.value.message
    assert PASSWORD not in str(caught.value)
    assert server.received == []


async def test_an_untrusted_certificate_is_refused_not_retried() -> None:
    with smtp_server("tls") as server:  # the machine's default trust: not the test CA
        channel = EmailChannel(email_settings(f"smtps://127.0.0.1:{server.port}"), None)
        with pytest.raises(TikrelayError) as caught:
            await channel.send("t", "x")
    assert caught.value.kind is ErrorKind.NETWORK
    assert caught.value.retryable is False
    assert server.received == []


async def test_a_server_that_is_down_is_a_network_error_to_retry() -> None:
    with smtp_server("plain") as server:
        port = server.port
    channel = EmailChannel(email_settings(f"smtp://127.0.0.1:{port}"), PASSWORD)
    with pytest.raises(TikrelayError) as caught:
        await channel.send("t", "x")
    assert caught.value.kind is ErrorKind.NETWORK
    assert caught.value.retryable is True
    assert PASSWORD not in str(caught.value)


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP server taking Apprise's JSON posts at /hook: its base URL and what it got."""
    received: list[dict[str, Any]] = []

    async def take(request: web.Request) -> web.Response:
        received.append(
            {
                "body": json.loads(await request.text()),
                "authorization": request.headers.get("Authorization"),
            }
        )
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", take)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


async def test_an_apprise_json_url_posts_the_title_and_text(
    hook: tuple[str, list[dict[str, Any]]],
) -> None:
    where, received = hook
    channel = AppriseChannel(f"json://relay:hook-s3cret@{where}/hook", index=1)
    await channel.send("TikTok source @alice recovered", "works again")
    [got] = received
    assert got["body"]["title"] == "TikTok source @alice recovered"
    assert got["body"]["message"] == "works again"
    assert got["body"]["type"] == "info"
    assert got["authorization"].startswith("Basic ")
    assert channel.name == "apprise #2 (json://)"


async def test_an_apprise_service_that_refuses_is_a_retry_without_the_url(
    tmp_path: Path,
) -> None:
    channel = AppriseChannel("json://relay:hook-s3cret@127.0.0.1:9/hook")  # nothing listens
    with pytest.raises(TikrelayError) as caught:
        await channel.send("t", "x")
    assert caught.value.retryable is True
    assert "hook-s3cret" not in str(caught.value)
    assert "127.0.0.1" not in str(caught.value)


async def test_the_admins_chat_gets_a_text_message(tmp_path: Path) -> None:
    token = "123456:NOTIFY-TEST-TOKEN"
    async with TelegramEmulator(token, files_dir=tmp_path / "telegram") as telegram:
        admins = telegram.add_chat("group", title="Admins")
        sender = TelegramSender(token, api_url=telegram.url, pacer=FloodPacer())
        async with sender:
            await TelegramChannel(sender, admins.id).send("disk nearly full", "free some space")
        [message] = telegram.messages(admins.id)
    assert message["text"] == "disk nearly full\n\nfree some space"
