"""A proxy that refuses connections is reported as such (kind network, retried), for the first
poll (the profile page, where yt-dlp swallows the error) and for later ones (the feed API), with
the proxy's password hidden."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import NetworkSettings
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.domain.retry import RETRYABLE
from tikrelay.sources.tiktok import TikTokClient
from tikrelay.sources.transport import shown_proxy


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def dead_client(tmp_path: Path, port: int) -> TikTokClient:
    network = NetworkSettings(proxies=[f"http://relay:s3cret@127.0.0.1:{port}"])
    return TikTokClient(network, StatePaths(tmp_path))


def assert_proxy_unreachable(error: TikrelayError, port: int, why: str) -> None:
    assert error.kind is ErrorKind.NETWORK
    assert error.retryable in (None, True)
    assert error.kind in RETRYABLE
    assert error.message == f"proxy http://relay:[redacted]@127.0.0.1:{port} unreachable: {why}"
    assert "s3cret" not in str(error)


def test_the_first_poll_names_the_proxy_not_the_secondary_user_id(
    tmp_path: Path, closed_port: int
) -> None:
    with pytest.raises(TikrelayError) as caught:
        dead_client(tmp_path, closed_port).resolve("alice", 3)
    assert_proxy_unreachable(caught.value, closed_port, "connection refused")


def test_a_later_poll_names_the_proxy(tmp_path: Path, closed_port: int) -> None:
    sec_uid = "MS4wLjABAAAA" + "a" * 64
    with pytest.raises(TikrelayError) as caught:
        dead_client(tmp_path, closed_port).latest(sec_uid, "alice", 3)
    assert_proxy_unreachable(caught.value, closed_port, "connection refused")


def test_a_post_read_names_the_proxy(tmp_path: Path, closed_port: int) -> None:
    url = "https://www.tiktok.com/@alice/video/7500000000000000001"
    client = dead_client(tmp_path, closed_port)
    with client.open_post(url, url.rsplit("/", 1)[1]) as session, pytest.raises(TikrelayError) as c:
        session.post()
    # The page request is impersonated (curl_cffi), which reports "could not connect".
    assert_proxy_unreachable(c.value, closed_port, "could not connect")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw@10.0.0.1:3128", "http://user:[redacted]@10.0.0.1:3128"),
        ("socks5://user@proxy.example:1080", "socks5://user@proxy.example:1080"),
        ("http://proxy.example", "http://proxy.example"),
        ("http://:pw@[::1]:8080", "http://:[redacted]@[::1]:8080"),
    ],
)
def test_proxy_urls_are_shown_without_passwords(url: str, shown: str) -> None:
    assert shown_proxy(url) == shown
