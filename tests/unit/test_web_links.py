"""Links people send the bot (any site): which are fetched, and in which variant."""

from __future__ import annotations

import pytest

from tikrelay.bot.buttons import quality_choices
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.sources.media_urls import WEB, check_url
from tikrelay.sources.web import (
    format_spec,
    link_digest,
    site_extractor,
    variant_of,
    web_post_id,
)

ALLOWED = [
    "https://www.youtube.com/watch?v=abc",
    "http://media.example.com/files/clip.mp4",
    "https://archive.org/details/some-item",
    "https://media.example.com:8443/page",
]

REFUSED = [
    ("http://127.0.0.1:8080/", "private or local address (127.0.0.1)"),
    ("http://localhost/", "localhost is a local name"),
    ("http://LOCALHOST./x", "localhost is a local name"),
    ("http://api.localhost/x", "api.localhost is a local name"),
    ("http://printer.local/x", "printer.local is a local name"),
    ("http://metadata.google.internal/x", "a local name"),
    ("http://intranet/x", "intranet is a local name"),
    ("http://[::1]/x", "private or local address (::1)"),
    ("http://0.0.0.0/x", "private or local address (0.0.0.0)"),
    ("http://0/x", "private or local address (0.0.0.0)"),
    ("http://2130706433/x", "private or local address (127.0.0.1)"),
    ("http://169.254.169.254/latest/meta-data/", "private or local address (169.254.169.254)"),
    ("http://[::ffff:127.0.0.1]/x", "private or local address (127.0.0.1)"),
    ("http://224.0.0.1/x", "224.0.0.1"),
    ("ftp://media.example.com/clip.mp4", "only http and https are allowed, not 'ftp'"),
    ("file:///etc/passwd", "only http and https are allowed, not 'file'"),
    ("javascript:alert(1)", "only http and https are allowed"),
    ("https://user:secret@media.example.com/x", "credentials in the URL"),
]


@pytest.mark.parametrize("url", ALLOWED)
def test_links_to_public_sites_are_fetched(url: str) -> None:
    assert check_url(url, WEB, resolve=False) == url


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_links_to_this_machine_its_network_or_other_schemes_are_refused(
    url: str, reason: str
) -> None:
    with pytest.raises(TikrelayError) as refused:
        check_url(url, WEB, resolve=False)
    assert refused.value.kind is ErrorKind.PROTECTED
    assert refused.value.retryable is False
    assert reason in refused.value.message
    assert "secret" not in refused.value.message


def test_without_a_proxy_every_address_a_name_resolves_to_must_be_public() -> None:
    def resolver(host: str) -> list[str]:
        return {"rebind.example.com": ["127.0.0.1"], "split.example.com": ["::1", "10.0.0.1"]}[host]

    for host in ("rebind.example.com", "split.example.com"):
        with pytest.raises(TikrelayError, match="resolves to a private or local address"):
            check_url(f"https://{host}/v.mp4", WEB, resolve=True, resolver=resolver)


def test_a_site_check_still_wants_https_on_the_sites_own_hosts() -> None:
    with pytest.raises(TikrelayError, match="not one of tiktok's media hosts"):
        check_url("https://media.example.com/x.mp4", "tiktok", resolve=False)
    with pytest.raises(TikrelayError, match="only https is allowed"):
        check_url("http://v16-webapp-prime.tiktok.com/x", "tiktok", resolve=False)


def test_each_variant_of_a_link_is_a_post_of_its_own() -> None:
    url = "https://media.example.com/page.html"
    best, small, sound = (web_post_id(url, v) for v in ("best", "480p", "audio"))
    assert best == link_digest(url)
    assert (small, sound) == (f"{best}-480p", f"{best}-audio")
    assert [variant_of(i) for i in (best, small, sound)] == ["best", "480p", "audio"]
    assert web_post_id(f"  {url}\n") == best
    with pytest.raises(ValueError, match="unknown variant"):
        web_post_id(url, "4k")


def test_the_format_wanted_for_each_variant() -> None:
    assert format_spec("audio", 100) == "ba/b"
    assert format_spec("720p", 100).startswith("bv*[height<=720]+ba/b[height<=720]")
    best = format_spec("best", 52_428_800)
    assert best.startswith("bv*[filesize<?52428800][filesize_approx<?52428800]+ba")
    assert best.endswith("/bv*+ba/b")  # nothing fits: the best there is, compressed later


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "Youtube"),
        ("https://archive.org/details/some-item", "ArchiveOrg"),
        ("https://media.example.com/files/clip.MP4", "direct"),
        ("https://media.example.com/files/song.mp3?x=1", "direct"),
        ("https://www.tiktok.com/@alice/video/7300000000000000001", "TikTok"),
        ("https://news.example.com/article", None),
    ],
)
def test_a_group_gets_answers_only_for_links_that_are_surely_media(
    url: str, expected: str | None
) -> None:
    assert site_extractor(url) == expected


@pytest.mark.parametrize(
    ("heights", "buttons"),
    [
        ([1080, 720, 480, 360], ["720p", "480p"]),
        ([1080, 480], ["480p"]),  # 720p would be the same 480p file
        ([720, 480], ["480p"]),  # 720p is what was sent
        ([240, 144], []),  # both would be the 240p sent already
        ([2160, 1440], []),  # nothing at or under 720
    ],
)
def test_quality_buttons_offer_only_heights_that_differ(
    heights: list[int], buttons: list[str]
) -> None:
    assert quality_choices(heights) == buttons
