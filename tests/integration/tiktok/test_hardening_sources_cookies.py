"""``network.cookies_file`` is only ever read: yt-dlp works on a private copy in the state folder
(mode 0600) that keeps the cookies TikTok sets, is replaced whole, and is made again when the
user's file is newer."""

from __future__ import annotations

import os
import stat
import threading
from http.cookiejar import Cookie
from pathlib import Path

import pytest

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import NetworkSettings
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld
from tikrelay.sources.cookies import save_jar
from tikrelay.sources.tiktok import TikTokClient

USER_COOKIES = (
    "# Netscape HTTP Cookie File\n.tiktok.com\tTRUE\t/\tTRUE\t2147483647\tsid_tt\tsession-one\n"
)


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "home" / "cookies.txt"
    path.parent.mkdir()
    path.write_text(USER_COOKIES)
    path.chmod(0o600)
    os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    return path


@pytest.fixture
def client(
    emulator: TikTokEmulator, tmp_path: Path, user_file: Path, monkeypatch: pytest.MonkeyPatch
) -> TikTokClient:
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # restored afterwards
        monkeypatch.setenv(name, os.environ.get(name, ""))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(emulator.ca_pem)
    network = NetworkSettings(proxies=[emulator.proxy_url], ca_bundle=ca, cookies_file=user_file)
    return TikTokClient(network, StatePaths(tmp_path / "state").ensure())


def cookie_names(path: Path) -> set[str]:
    return {
        line.split("\t")[5]
        for line in path.read_text().splitlines()
        if line.count("\t") == 6 and not line.startswith("# ")
    }


def test_the_users_file_is_never_written_and_the_copy_keeps_new_cookies(
    client: TikTokClient, world: TikTokWorld, user_file: Path, tmp_path: Path
) -> None:
    before = (user_file.read_bytes(), user_file.stat().st_mtime_ns)
    world.add_creator("alice", videos=2)
    sec_uid, _ = client.resolve("alice", 2)
    client.latest(sec_uid, "alice", 2)
    post = world.posts("alice")[0]
    with client.open_post(post.url, post.id) as session:
        session.download_video(tmp_path / "dl")

    assert (user_file.read_bytes(), user_file.stat().st_mtime_ns) == before
    jar = client.paths.cookie_jar
    assert jar.parent == tmp_path / "state"
    assert stat.S_IMODE(jar.stat().st_mode) == 0o600
    assert {"sid_tt", "tt_chain_token"} <= cookie_names(jar)
    # The user's session was sent; the page's cookie came back on later requests.
    assert all("sid_tt" in r.cookies for r in world.requests(host="www.tiktok.com"))
    assert "tt_chain_token" in world.requests(host="v16-webapp-prime.tiktok.com")[-1].cookies
    assert list(jar.parent.glob(".cookies.txt.*")) == []  # no temporary files left


def test_a_newer_users_file_replaces_the_copy(
    client: TikTokClient, world: TikTokWorld, user_file: Path
) -> None:
    world.add_creator("alice", videos=1)
    client.resolve("alice", 1)
    jar = client.paths.cookie_jar
    assert "tt_chain_token" in cookie_names(jar)

    user_file.write_text(USER_COOKIES.replace("sid_tt\tsession-one", "sessionid\tsession-two"))
    future = jar.stat().st_mtime_ns + 10**9
    os.utime(user_file, ns=(future, future))
    world.clear_log()
    client.resolve("alice", 1)
    assert "sessionid" in world.requests(host="www.tiktok.com")[0].cookies
    assert "sid_tt" not in world.requests(host="www.tiktok.com")[0].cookies
    assert "sessionid" in cookie_names(jar)


def test_a_reader_never_sees_the_jar_empty_or_half_written(tmp_path: Path) -> None:
    jar = tmp_path / "cookies.txt"
    jar.write_text(USER_COOKIES)
    from yt_dlp.cookies import YoutubeDLCookieJar

    cookies = YoutubeDLCookieJar()
    for index in range(200):
        cookies.set_cookie(make_cookie(f"c{index}", "v" * 50))
    expected_lines = 200 + 1  # and sid_tt, from the file
    seen: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(len(cookie_names(jar)))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(100):
            save_jar(cookies, jar)
    finally:
        done.set()
        reader.join()
    assert seen
    assert set(seen) <= {1, expected_lines}  # the first version, then the whole merged one
    assert len(cookie_names(jar)) == expected_lines


def make_cookie(name: str, value: str) -> Cookie:
    return Cookie(
        0,
        name,
        value,
        None,
        False,
        ".tiktok.com",
        True,
        True,
        "/",
        True,
        True,
        2147483647,
        False,
        None,
        None,
        {},
    )
