"""The reachability checks: one ``proxy URL`` check per proxy (connect, then TikTok through it),
or without proxies one ``TikTok`` check of a direct request."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from tikrelay.config.logging import redact_text
from tikrelay.config.settings import NetworkSettings
from tikrelay.domain.errors import TikrelayError, classify
from tikrelay.health.limits import CONNECT_TIMEOUT, NETWORK_TIMEOUT
from tikrelay.health.report import Check, failed, passed
from tikrelay.health.threads import in_daemon_thread

TIKTOK_HOME = "https://www.tiktok.com/"
_PROXY_PORTS = {"http": 80, "https": 443} | dict.fromkeys(
    ("socks4", "socks4a", "socks5", "socks5h"), 1080
)


@contextlib.contextmanager
def ca_folder() -> Iterator[Path]:
    """A temporary folder for :func:`check_network`'s CA bundle.

    yt-dlp takes extra CAs only through process-wide variables (``SSL_CERT_FILE`` and its
    kin, see ``sources.ytdlp.trust_ca_bundle``), which the checks point at a bundle in this
    folder. Every variable left pointing into it is put back when the folder goes: in a
    long-running process (the bot, the web) a later HTTPS client would fail on the missing file.
    """
    before = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="tikrelay-health-") as folder:
        try:
            yield Path(folder)
        finally:
            for name, value in list(os.environ.items()):
                if value.startswith(folder):
                    if name in before:
                        os.environ[name] = before[name]
                    else:
                        del os.environ[name]


async def check_network(network: NetworkSettings, ca_folder: Path) -> list[Check]:
    """Each proxy, or without proxies a direct request to TikTok.

    ``ca_folder``: where the requests' CA bundle goes; :func:`ca_folder` makes one.
    """
    if not network.proxies:
        return [await check_tiktok("TikTok", network, None, ca_folder)]
    found = await asyncio.gather(
        *(check_proxy(i, proxy, network, ca_folder) for i, proxy in enumerate(network.proxies))
    )
    return list(found)


async def check_proxy(index: int, proxy: str, network: NetworkSettings, ca_folder: Path) -> Check:
    name = f"proxy {redact_text(proxy)}"
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")  # yt-dlp's reading
    try:
        port = parts.port or _PROXY_PORTS.get(parts.scheme.lower())
    except ValueError:
        port = None
    host = parts.hostname
    if not host or port is None:
        return failed(
            name, f"network.proxies.{index} is not a proxy URL: write it as http://host:port"
        )

    def connect() -> None:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()

    try:
        await asyncio.wait_for(in_daemon_thread(connect), CONNECT_TIMEOUT + 1)
    except OSError as exc:  # TimeoutError included
        reason = exc.strerror or str(exc) or "timed out"
        return failed(
            name,
            f"cannot connect to {host}:{port} ({reason}): start the proxy, or fix or remove "
            f"network.proxies.{index}",
        )
    return await check_tiktok(name, network, proxy, ca_folder)


async def check_tiktok(
    name: str, network: NetworkSettings, proxy: str | None, ca_folder: Path
) -> Check:
    """One request to TikTok's home page, with the options every source request gets."""
    from tikrelay.sources.ytdlp import base_options, fetch_status

    how = "through it" if proxy else "directly"
    if proxy:
        fix = "check the proxy's own connection, or remove it from network.proxies"
    else:
        fix = "check this machine's internet connection and DNS, or set network.proxies"
    try:
        # A home page needs no cookies; the cookies file has its own check.
        options = base_options(
            network.model_copy(update={"cookies_file": None}), ca_folder=ca_folder, proxy=proxy
        )
    except TikrelayError as exc:  # an unreadable network.ca_bundle
        return failed(name, exc.message)
    options["socket_timeout"] = NETWORK_TIMEOUT
    try:
        status = await asyncio.wait_for(
            in_daemon_thread(lambda: fetch_status(options, TIKTOK_HOME)), NETWORK_TIMEOUT + 1
        )
    except TimeoutError:
        return failed(name, f"{TIKTOK_HOME} did not answer {how} in {NETWORK_TIMEOUT:g} s: {fix}")
    except Exception as exc:
        error = classify(exc)
        if error.http_status is None:
            return failed(name, f"{TIKTOK_HOME} cannot be reached {how} ({error.message}): {fix}")
        status = error.http_status
    if status in (401, 403, 429):
        return failed(
            name,
            f"TikTok refused a request {how} (HTTP {status}): this address may be blocked or "
            "rate-limited; try another proxy, or set network.cookies_file",
        )
    if status >= 500:
        return failed(name, f"{TIKTOK_HOME} answered HTTP {status} {how}: try again later; {fix}")
    return passed(name, f"TikTok answers {how} (HTTP {status})")
