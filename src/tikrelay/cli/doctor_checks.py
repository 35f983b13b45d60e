"""The checks of ``tikrelay doctor`` that reach out over the network (proxies, TikTok), the
report line every check returns, and running blocking work in threads that cannot hang it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from tikrelay.config.settings import NetworkSettings
from tikrelay.domain.errors import TikrelayError, classify

T = TypeVar("T")

NETWORK_TIMEOUT = 5.0  # one Telegram call, one TikTok request, one database connection
CONNECT_TIMEOUT = 3.0  # a TCP connect to a proxy
TIKTOK_HOME = "https://www.tiktok.com/"
_PROXY_PORTS = {"http": 80, "https": 443} | dict.fromkeys(
    ("socks4", "socks4a", "socks5", "socks5h"), 1080
)


@dataclass(frozen=True)
class Check:
    """One line of the report: what a passing check found, or the problems (each with its fix)."""

    label: str
    found: str = ""
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def passed(label: str, found: str, notes: tuple[str, ...] = ()) -> Check:
    return Check(label, found=found, notes=notes)


def failed(label: str, *problems: str) -> Check:
    return Check(label, problems=problems)


# -- network -------------------------------------------------------------------------------------


async def check_network(network: NetworkSettings, ca_folder: Path) -> list[Check]:
    """Each proxy, or without proxies a direct request to TikTok."""
    if not network.proxies:
        return [await check_tiktok("TikTok", network, None, ca_folder)]
    found = await asyncio.gather(
        *(check_proxy(i, proxy, network, ca_folder) for i, proxy in enumerate(network.proxies))
    )
    return list(found)


async def check_proxy(index: int, proxy: str, network: NetworkSettings, ca_folder: Path) -> Check:
    label = f"proxy {proxy}"
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")  # yt-dlp's reading
    try:
        port = parts.port or _PROXY_PORTS.get(parts.scheme.lower())
    except ValueError:
        port = None
    host = parts.hostname
    if not host or port is None:
        return failed(
            label, f"network.proxies.{index} is not a proxy URL: write it as http://host:port"
        )

    def connect() -> None:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()

    try:
        await asyncio.wait_for(in_daemon_thread(connect), CONNECT_TIMEOUT + 1)
    except OSError as exc:  # TimeoutError included
        reason = exc.strerror or str(exc) or "timed out"
        return failed(
            label,
            f"cannot connect to {host}:{port} ({reason}): start the proxy, or fix or remove "
            f"network.proxies.{index}",
        )
    return await check_tiktok(label, network, proxy, ca_folder)


async def check_tiktok(
    label: str, network: NetworkSettings, proxy: str | None, ca_folder: Path
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
        return failed(label, exc.message)
    options["socket_timeout"] = NETWORK_TIMEOUT
    try:
        status = await asyncio.wait_for(
            in_daemon_thread(lambda: fetch_status(options, TIKTOK_HOME)), NETWORK_TIMEOUT + 1
        )
    except TimeoutError:
        return failed(label, f"{TIKTOK_HOME} did not answer {how} in {NETWORK_TIMEOUT:g} s: {fix}")
    except Exception as exc:
        error = classify(exc)
        if error.http_status is None:
            return failed(label, f"{TIKTOK_HOME} cannot be reached {how} ({error.message}): {fix}")
        status = error.http_status
    if status in (401, 403, 429):
        return failed(
            label,
            f"TikTok refused a request {how} (HTTP {status}): this address may be blocked or "
            "rate-limited; try another proxy, or set network.cookies_file",
        )
    if status >= 500:
        return failed(label, f"{TIKTOK_HOME} answered HTTP {status} {how}: try again later; {fix}")
    return passed(label, f"TikTok answers {how} (HTTP {status})")


# -- threads -------------------------------------------------------------------------------------


def in_daemon_thread(func: Callable[[], T]) -> asyncio.Future[T]:
    """``func()`` in a daemon thread; cancelling the future abandons the thread."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():  # else the wait timed out: nobody wants the answer any more
            outcome()

    def work() -> None:
        try:
            result = func()
        except Exception as exc:
            outcome = functools.partial(future.set_exception, exc)
        else:
            outcome = functools.partial(future.set_result, result)
        with contextlib.suppress(RuntimeError):  # the loop closed while this thread hung
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=work, name="tikrelay-doctor", daemon=True).start()
    return future
