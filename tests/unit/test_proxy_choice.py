"""Source traffic: one proxy per post (or feed), the next one on every retry."""

from __future__ import annotations

from tikrelay.sources.ytdlp import pick_proxy

PROXIES = ["http://a:1", "http://b:2", "http://c:3"]


def test_no_proxies_means_direct() -> None:
    assert pick_proxy([], "tiktok:1", 0) is None


def test_a_post_keeps_its_proxy_and_retries_rotate_through_all() -> None:
    first = pick_proxy(PROXIES, "tiktok:123", 0)
    assert pick_proxy(PROXIES, "tiktok:123", 0) == first  # sticky
    tried = [pick_proxy(PROXIES, "tiktok:123", attempt) for attempt in range(3)]
    assert sorted(tried) == sorted(PROXIES)  # three attempts, three different proxies
    assert pick_proxy(PROXIES, "tiktok:123", 3) == first


def test_posts_spread_over_the_proxies() -> None:
    used = {pick_proxy(PROXIES, f"tiktok:{n}", 0) for n in range(60)}
    assert used == set(PROXIES)
