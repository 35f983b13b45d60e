"""The media URL check: https on a site's media hosts, no IP literals, no private answers."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.sources.media_urls import MEDIA_HOSTS, check_url

ALLOWED = [
    "https://v16-webapp-prime.tiktok.com/video/tos/x/?mime_type=video_mp4",
    "https://sf16-ies-music-va.tiktokcdn.com/obj/a.mp3?mime_type=audio_mpeg",
    "https://p16-sign-va.tiktokcdn-us.com/tos/x~tplv-photomode-image.jpeg?x-signature=abc",
    "https://v19.tiktokcdn-eu.com/x",
    "https://v16.muscdn.com/x",
    "https://p16.byteoversea.com/x",
    "https://p16-sign-sg.ibyteimg.com/x",
    "HTTPS://P16-SIGN-VA.TIKTOKCDN-US.COM:443/x",
    "https://p16.tiktokcdn.com./x",
]

REFUSED = [
    ("http://127.0.0.1/x", "only https"),
    ("https://127.0.0.1/x", "private or local address (127.0.0.1)"),
    ("https://[::1]/x", "private or local address (::1)"),
    ("https://localhost/x", "not one of tiktok's media hosts"),
    ("https://10.1.2.3/x", "private or local address (10.1.2.3)"),
    ("https://192.168.0.1/x", "private or local address (192.168.0.1)"),
    ("https://172.16.9.9/x", "private or local address (172.16.9.9)"),
    ("https://169.254.169.254/latest/meta-data/", "private or local address (169.254.169.254)"),
    ("https://[fe80::1%25eth0]/x", "private or local address (fe80::1)"),
    ("https://[::ffff:169.254.169.254]/x", "private or local address (169.254.169.254)"),
    ("https://0x7f000001/x", "private or local address (127.0.0.1)"),
    ("https://127.1/x", "private or local address (127.0.0.1)"),
    ("https://0/x", "private or local address (0.0.0.0)"),
    ("https://93.184.215.14/x", "an address (93.184.215.14), not a host name"),
    ("file:///etc/passwd", "only https is allowed, not 'file'"),
    ("ftp://p16.tiktokcdn.com/x", "only https"),
    ("data:image/jpeg;base64,AAAA", "only https"),
    ("http://p16-sign-va.tiktokcdn-us.com/x", "only https is allowed, not 'http'"),
    ("//p16-sign-va.tiktokcdn-us.com/x", "only https is allowed, not 'a relative URL'"),
    ("https://tiktok.com.evil.example/x", "not one of tiktok's media hosts"),
    ("https://eviltiktokcdn.com/x", "not one of tiktok's media hosts"),
    ("https://p16.tiktokcdn.com@evil.example/x", "not one of tiktok's media hosts"),
    ("https://user:pw@p16.tiktokcdn.com/x", "credentials in the URL"),
    ("https://p16.tiktokcdn.com:8443/x", "port 8443 is not the https port"),
    ("https://[::1/x", "not a valid URL"),
    ("https:///x", "no host"),
]


@pytest.mark.parametrize("url", ALLOWED)
def test_tiktok_media_hosts_over_https_are_allowed(url: str) -> None:
    assert check_url(url, resolve=False) == url


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_everything_else_is_refused_with_its_reason(url: str, reason: str) -> None:
    with pytest.raises(TikrelayError) as caught:
        check_url(url, resolve=False)
    assert (caught.value.kind, caught.value.retryable) == (ErrorKind.PROTECTED, False)
    assert reason in caught.value.message
    assert "pw" not in caught.value.message


def test_an_unknown_site_allows_nothing() -> None:
    with pytest.raises(TikrelayError, match="not one of instagram's media hosts"):
        check_url(ALLOWED[0], "instagram", resolve=False)


@pytest.mark.parametrize(
    "answers",
    [["127.0.0.1"], ["203.0.113.9", "10.0.0.1"], ["fe80::1%eth0"], ["::ffff:192.168.1.1"]],
)
def test_without_a_proxy_a_host_resolving_to_a_private_address_is_refused(
    answers: list[str],
) -> None:
    with pytest.raises(TikrelayError, match="resolves to a private or local address"):
        check_url(ALLOWED[0], resolve=True, resolver=lambda host: answers)


def test_without_a_proxy_public_answers_pass_and_with_one_nothing_is_resolved() -> None:
    assert check_url(ALLOWED[0], resolve=True, resolver=lambda host: ["93.184.215.14"])

    def no_lookups(host: str) -> list[str]:
        raise AssertionError("a proxy resolves names: no lookup here")

    assert check_url(ALLOWED[0], resolve=False, resolver=no_lookups)


@given(st.ip_addresses())
def test_no_ip_literal_is_ever_a_media_host(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    host = f"[{address}]" if address.version == 6 else str(address)
    with pytest.raises(TikrelayError) as caught:
        check_url(f"https://{host}/x.jpeg", resolve=False)
    assert "not a host name" in caught.value.message


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=30))
def test_only_names_under_the_allow_list_pass(label: str) -> None:
    url = f"https://{label}/x"
    try:
        check_url(url, resolve=False)
    except TikrelayError:
        return
    host = label.rstrip(".")
    assert any(host == p or host.endswith(p.lstrip("*")) for p in MEDIA_HOSTS["tiktok"])
