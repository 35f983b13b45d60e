"""The TikTok source (tikrelay.sources.tiktok) driving the real yt-dlp against the emulator, with
TLS verified against the emulator's CA the way users configure ``network.ca_bundle``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import NetworkSettings
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.domain.posts import PostKind
from tikrelay.media.probe import probe
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld
from tikrelay.sandbox.tiktok.model import PRIVATE_POST, REMOVED
from tikrelay.sources import tiktok
from tikrelay.sources.refs import parse_creator
from tikrelay.sources.tiktok import TikTokClient
from tikrelay.sources.ytdlp import check_cookie_file


@pytest.fixture
def client(source_client: TikTokClient) -> TikTokClient:
    return source_client


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_creator_references() -> None:
    assert parse_creator("@alice") == "alice"
    assert parse_creator("bob.b_1") == "bob.b_1"
    assert parse_creator("https://www.tiktok.com/@carol?lang=en") == "carol"
    with pytest.raises(ValueError, match="@username"):
        parse_creator("https://example.com/alice")


def test_feed_lists_the_newest_posts_oldest_first(client: TikTokClient, world: TikTokWorld) -> None:
    creator = world.add_creator("alice", videos=4)
    sec_uid, first = client.resolve("alice", 3)
    assert sec_uid == creator.sec_uid
    assert [e.id for e in first] == [p.id for p in world.posts("alice")][:3][::-1]
    world.clear_log()
    entries = client.latest(sec_uid, "alice", 3)
    newest = [p.id for p in world.posts("alice")][:3]  # the world lists newest first
    assert [e.id for e in entries] == newest[::-1]
    assert entries[0].url == f"https://www.tiktok.com/@alice/video/{entries[0].id}"
    # One feed request, and no profile page: the stored secUid is enough.
    assert len(world.requests(path="/api/creator/item_list/")) == 1
    assert world.requests(path="/@alice") == []


def test_feed_reads_reuse_one_ytdlp_instance_and_drop_it_after_a_failure(
    client: TikTokClient, world: TikTokWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    creator = world.add_creator("alice", videos=2)
    built: list[object] = []
    real = tiktok.GuardedYoutubeDL

    def counted(*args: object, **kwargs: object) -> object:
        built.append(made := real(*args, **kwargs))
        return made

    monkeypatch.setattr(tiktok, "GuardedYoutubeDL", counted)
    for _ in range(3):
        assert len(client.latest(creator.sec_uid, "alice", 3)) == 2
    assert len(built) == 1  # made once, kept for the next reads
    world.fail_next("/api/creator/item_list/", 503)
    with pytest.raises(TikrelayError):
        client.latest(creator.sec_uid, "alice", 3)
    assert len(client.latest(creator.sec_uid, "alice", 3)) == 2
    assert len(built) == 2  # the failed one was not kept
    client.close()


def test_video_is_the_clean_muxed_file_even_with_an_hevc_trap(
    client: TikTokClient, world: TikTokWorld, tmp_path: Path
) -> None:
    world.add_creator("alice")
    post = world.add_video("alice", desc="sharp #trap #fyp", hevc=True)
    with client.open_post(f"https://www.tiktok.com/@alice/video/{post.id}", post.id) as session:
        found = session.post()
        path = session.download_video(tmp_path / "dl")
    assert found.kind is PostKind.VIDEO
    assert found.text == "sharp #trap #fyp"
    assert found.hashtags == ("trap", "fyp")
    assert found.author == "alice"
    assert sha256(path) == post.media.clean_sha256
    info = probe(path)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert post.media.watermarked_path is not None
    assert sha256(path) != sha256(post.media.watermarked_path)
    # One page read serves both the metadata and the download.
    assert len(world.requests(path=f"/@alice/video/{post.id}")) == 1


def test_slideshow_gives_every_image_in_order_and_the_sound(
    client: TikTokClient, world: TikTokWorld, tmp_path: Path
) -> None:
    world.add_creator("alice")
    post = world.add_slideshow("alice", images=("jpeg", "webp", "heic"), desc="three")
    url = f"https://www.tiktok.com/@alice/photo/{post.id}"
    with client.open_post(url, post.id) as session:
        found = session.post()
        slides = session.download_images(tmp_path / "dl")
        sound = session.download_sound(tmp_path / "dl")
    assert found.kind is PostKind.SLIDESHOW
    assert len(found.images) == 3
    assert [p.suffix for p in slides] == [".jpg", ".webp", ".heic"]
    assert [sha256(p) for p in slides] == [sha256(s.path) for s in post.media.slides]
    assert sound is not None
    assert post.media.music_path is not None
    assert sha256(sound) == sha256(post.media.music_path)


@pytest.mark.parametrize(
    ("status", "kind"), [(PRIVATE_POST, ErrorKind.PRIVATE), (REMOVED, ErrorKind.DELETED)]
)
def test_unavailable_posts_are_classified_and_final(
    client: TikTokClient, world: TikTokWorld, status: int, kind: ErrorKind
) -> None:
    world.add_creator("alice")
    post = world.add_video("alice")
    world.set_status(post.id, status)
    url = f"https://www.tiktok.com/@alice/video/{post.id}"
    with client.open_post(url, post.id) as session, pytest.raises(TikrelayError) as caught:
        session.post()
    assert caught.value.kind is kind
    assert caught.value.retryable is False


def test_without_the_ca_the_proxy_is_refused(
    emulator: TikTokEmulator, world: TikTokWorld, tmp_path: Path
) -> None:
    world.add_creator("alice", videos=1)
    client = TikTokClient(NetworkSettings(proxies=[emulator.proxy_url]), StatePaths(tmp_path))
    with pytest.raises(TikrelayError) as caught:
        client.resolve("alice", 1)
    assert caught.value.kind in (ErrorKind.NETWORK, ErrorKind.EXTRACTOR)


def test_cookie_files_must_be_private(tmp_path: Path) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n")
    cookies.chmod(0o644)
    with pytest.raises(TikrelayError, match="chmod 600"):
        check_cookie_file(cookies)
    cookies.chmod(0o600)
    assert check_cookie_file(cookies) == cookies
    with pytest.raises(TikrelayError, match="does not exist"):
        check_cookie_file(tmp_path / "missing.txt")


def test_verify_tls_false_accepts_the_proxy_without_its_ca(
    emulator: TikTokEmulator, world: TikTokWorld, tmp_path: Path
) -> None:
    creator = world.add_creator("alice", videos=1)
    network = NetworkSettings(proxies=[emulator.proxy_url], verify_tls=False)
    sec_uid, entries = TikTokClient(network, StatePaths(tmp_path)).resolve("alice", 5)
    assert sec_uid == creator.sec_uid
    assert len(entries) == 1
