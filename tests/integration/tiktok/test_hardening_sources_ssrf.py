"""Media URLs in TikTok's data are fetched only over https from TikTok's media hosts, redirects
included, and what arrives is checked to be what it claims: the real source against the
emulator, whose items are patched to point elsewhere.

No test sends traffic to a non-loopback address: private and link-local literals are refused
before any request, and were one not refused, the request would go to the emulator's proxy,
which answers 502 for hosts it does not emulate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from yt_dlp.networking.exceptions import RequestError

from tests.support.recording import RecordingServer
from tikrelay.domain.errors import ErrorKind, TikrelayError, classify
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld
from tikrelay.sandbox.tiktok.model import IMAGE_HOST, MUSIC_HOST, VIDEO_HOST
from tikrelay.sources.tiktok import TikTokClient
from tikrelay.sources.transport import GuardedYoutubeDL

FIRST_SLIDE = "imagePost.images.0.imageURL.urlList"


def refused(caught: pytest.ExceptionInfo[TikrelayError]) -> str:
    error = caught.value
    assert error.kind is ErrorKind.PROTECTED, error
    assert error.retryable is False
    assert "refused to fetch" in error.message
    return error.message


def open_slideshow(client: TikTokClient, world: TikTokWorld, patch: dict[str, Any]) -> Any:
    world.add_creator("alice")
    post = world.add_slideshow("alice", images=("jpeg", "jpeg"))
    world.patch_item(post.id, patch)
    return client.open_post(post.url, post.id), post


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("http://127.0.0.1:{port}/secret.jpg", "only https"),
        ("https://127.0.0.1:{port}/secret.jpg", "private or local address (127.0.0.1)"),
        ("https://[::1]:{port}/secret.jpg", "private or local address (::1)"),
        ("https://localhost:{port}/secret.jpg", "localhost is not one of tiktok's media hosts"),
        ("https://localhost/secret.jpg", "localhost is not one of tiktok's media hosts"),
        ("https://2130706433:{port}/secret.jpg", "private or local address (127.0.0.1)"),
    ],
)
def test_slides_pointing_at_loopback_are_refused_without_a_request(
    source_client: TikTokClient,
    world: TikTokWorld,
    internal: RecordingServer,
    tmp_path: Path,
    template: str,
    reason: str,
) -> None:
    bad = template.format(port=internal.port)
    session, _ = open_slideshow(source_client, world, {FIRST_SLIDE: [bad]})
    with session as post, pytest.raises(TikrelayError) as caught:
        post.download_images(tmp_path / "dl")
    assert reason in refused(caught)
    assert internal.hits == []
    assert list((tmp_path / "dl").glob("slide-01*")) == []


@pytest.mark.parametrize(
    "bad",
    [
        "https://10.0.0.7/slide.jpeg",
        "https://192.168.1.20/slide.jpeg",
        "https://172.16.0.3/slide.jpeg",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fe80::1]/slide.jpeg",
        "https://[::ffff:10.0.0.7]/slide.jpeg",
        "file:///etc/passwd",
        f"http://{IMAGE_HOST}/tos-useast5-i-photomode-tx/x~tplv-photomode-image.jpeg",
        "https://images.example.com/slide.jpeg",
        "https://tiktokcdn.com.example.net/slide.jpeg",
        f"https://user:secret@{IMAGE_HOST}/slide.jpeg",
        "//p16-sign-va.tiktokcdn-us.com/slide.jpeg",
    ],
)
def test_slides_on_private_addresses_other_schemes_or_hosts_are_refused(
    source_client: TikTokClient, world: TikTokWorld, tmp_path: Path, bad: str
) -> None:
    session, _ = open_slideshow(source_client, world, {FIRST_SLIDE: [bad]})
    with session as post, pytest.raises(TikrelayError) as caught:
        post.download_images(tmp_path / "dl")
    message = refused(caught)
    assert "secret" not in message
    assert world.requests(host=IMAGE_HOST) == []  # not even the second slide was fetched


def test_a_refused_first_url_falls_back_to_the_allowed_mirror(
    source_client: TikTokClient,
    world: TikTokWorld,
    internal: RecordingServer,
    tmp_path: Path,
) -> None:
    world.add_creator("alice")
    post = world.add_slideshow("alice", images=("jpeg",))
    world.patch_item(post.id, {FIRST_SLIDE: [internal.url(), post.slides[0].mirror_url]})
    with source_client.open_post(post.url, post.id) as session:
        slides = session.download_images(tmp_path / "dl")
    assert [p.read_bytes() for p in slides] == [post.slides[0].path.read_bytes()]
    assert internal.hits == []


def test_a_sound_pointing_at_an_internal_server_is_refused(
    source_client: TikTokClient,
    world: TikTokWorld,
    internal: RecordingServer,
    tmp_path: Path,
) -> None:
    world.add_creator("alice")
    post = world.add_slideshow("alice")
    world.patch_item(post.id, {"music.playUrl": internal.url("/sound.mp3")})
    with source_client.open_post(post.url, post.id) as session:
        assert len(session.download_images(tmp_path / "dl")) == 2
        with pytest.raises(TikrelayError) as caught:
            session.download_sound(tmp_path / "dl")
    assert "only https" in refused(caught)
    assert internal.hits == []
    assert world.requests(host=MUSIC_HOST) == []


@pytest.mark.parametrize(
    ("target", "what"),
    [("*.tiktokcdn-us.com/*", "images"), (f"{MUSIC_HOST}/*", "sound")],
)
def test_a_cdn_redirect_to_loopback_fails_and_is_not_followed(
    source_client: TikTokClient,
    world: TikTokWorld,
    internal: RecordingServer,
    tmp_path: Path,
    target: str,
    what: str,
) -> None:
    world.add_creator("alice")
    post = world.add_slideshow("alice", images=("jpeg",))
    world.redirect_next(target, internal.url(), count=None)
    with source_client.open_post(post.url, post.id) as session, pytest.raises(TikrelayError) as c:
        getattr(session, f"download_{what}")(tmp_path / "dl")
    assert "127.0.0.1" in refused(c)
    assert internal.hits == []
    assert {r.status for r in world.requests() if r.host != "www.tiktok.com"} == {302}


def test_a_cdn_redirect_to_another_tiktok_media_host_is_followed(
    source_client: TikTokClient, world: TikTokWorld, tmp_path: Path
) -> None:
    world.add_creator("alice")
    post = world.add_slideshow("alice", images=("jpeg",))
    world.redirect_next(f"{IMAGE_HOST}/*", post.slides[0].mirror_url, count=1)
    with source_client.open_post(post.url, post.id) as session:
        slides = session.download_images(tmp_path / "dl")
    assert [p.read_bytes() for p in slides] == [post.slides[0].path.read_bytes()]
    assert [r.status for r in world.requests()[-2:]] == [302, 200]


@pytest.mark.parametrize(
    ("compat_opts", "connection"),
    [([], "keep-alive"), (["prefer-legacy-http-handler"], "close")],
    ids=["requests", "urllib"],
)
def test_both_of_yt_dlps_http_handlers_refuse_the_redirect(
    emulator: TikTokEmulator,
    world: TikTokWorld,
    internal: RecordingServer,
    compat_opts: list[str],
    connection: str,
) -> None:
    world.add_creator("alice")
    post = world.add_slideshow("alice", images=("jpeg",))
    world.redirect_next(f"{IMAGE_HOST}/*", internal.url(), count=None)
    options = {**emulator.ydl_options, "quiet": True, "compat_opts": compat_opts}
    with GuardedYoutubeDL(options) as ydl, pytest.raises(RequestError) as caught:
        ydl.urlopen(post.slides[0].url)
    error = classify(caught.value)
    assert (error.kind, error.retryable) == (ErrorKind.PROTECTED, False)
    assert f"refused to fetch http://127.0.0.1:{internal.port}/secret.jpg" in error.message
    assert internal.hits == []
    # The handler that answered (requests keeps connections alive, urllib closes them).
    [sent] = world.requests(host=IMAGE_HOST)
    assert (sent.status, sent.headers.get("connection")) == (302, connection)


def test_video_formats_on_other_hosts_are_never_fetched(
    source_client: TikTokClient,
    world: TikTokWorld,
    internal: RecordingServer,
    tmp_path: Path,
) -> None:
    world.add_creator("alice")
    post = world.add_video("alice")
    bad = internal.url("/video.mp4")
    world.patch_item(
        post.id,
        {
            "video.playAddr": bad,
            "video.downloadAddr": bad,
            "video.bitrateInfo.0.PlayAddr.UrlList": [bad],
        },
    )
    with source_client.open_post(post.url, post.id) as session:
        with pytest.raises(TikrelayError) as caught:
            session.video_offer()
        refused(caught)
        with pytest.raises(TikrelayError) as caught:
            session.download_video(tmp_path / "dl")
        refused(caught)
    assert internal.hits == []
    assert world.requests(host=VIDEO_HOST) == []


def test_a_video_is_still_fetched_from_its_allowed_formats(
    source_client: TikTokClient,
    world: TikTokWorld,
    internal: RecordingServer,
    tmp_path: Path,
) -> None:
    world.add_creator("alice")
    post = world.add_video("alice")
    world.patch_item(post.id, {"video.playAddr": internal.url("/video.mp4")})
    with source_client.open_post(post.url, post.id) as session:
        assert session.video_offer().usable_formats >= 1
        path = session.download_video(tmp_path / "dl")
    assert path.read_bytes() == post.media.clean_path.read_bytes()  # type: ignore[union-attr]
    assert internal.hits == []


def test_a_video_cdn_redirect_to_loopback_fails(
    source_client: TikTokClient,
    world: TikTokWorld,
    internal: RecordingServer,
    tmp_path: Path,
) -> None:
    world.add_creator("alice")
    post = world.add_video("alice")
    world.redirect_next(f"{VIDEO_HOST}/*", internal.url("/video.mp4"), count=None)
    with source_client.open_post(post.url, post.id) as session, pytest.raises(TikrelayError) as c:
        session.download_video(tmp_path / "dl")
    refused(c)
    assert internal.hits == []


# -- what arrives is what it claims ---------------------------------------------------------


def test_a_sound_that_is_a_jpeg_is_refused_naming_both(
    source_client: TikTokClient, world: TikTokWorld, tmp_path: Path
) -> None:
    world.add_creator("alice")
    post = world.add_slideshow("alice", images=("jpeg",))
    world.patch_item(post.id, {"music.playUrl": post.slides[0].url})  # a real CDN image
    with source_client.open_post(post.url, post.id) as session, pytest.raises(TikrelayError) as c:
        session.download_sound(tmp_path / "dl")
    assert (c.value.kind, c.value.retryable) == (ErrorKind.UNSUPPORTED, False)
    assert c.value.message == f"the sound of post {post.id}: expected audio, got a JPEG image"
    assert list((tmp_path / "dl").iterdir()) == []  # nothing left under a final name


def test_a_slide_that_is_audio_is_refused(
    source_client: TikTokClient, world: TikTokWorld, tmp_path: Path
) -> None:
    world.add_creator("alice")
    post = world.add_slideshow("alice", images=("jpeg",))
    assert post.media.music_url is not None
    world.patch_item(post.id, {FIRST_SLIDE: [post.media.music_url]})
    with source_client.open_post(post.url, post.id) as session, pytest.raises(TikrelayError) as c:
        session.download_images(tmp_path / "dl")
    assert c.value.kind is ErrorKind.UNSUPPORTED
    assert c.value.message.startswith(f"slide 1 of post {post.id}: expected an image, got audio")


def test_an_html_page_served_as_a_slide_is_refused(
    source_client: TikTokClient, world: TikTokWorld, tmp_path: Path
) -> None:
    world.add_creator("alice")
    post = world.add_slideshow("alice", images=("jpeg",))
    world.garbage_next(f"{IMAGE_HOST}/*")
    world.garbage_next(f"{IMAGE_HOST.replace('p16', 'p19')}/*")
    with source_client.open_post(post.url, post.id) as session, pytest.raises(TikrelayError) as c:
        session.download_images(tmp_path / "dl")
    assert c.value.kind is ErrorKind.UNSUPPORTED
    assert "expected an image, got 4096 bytes of something else" in c.value.message


def test_a_video_that_is_an_image_is_refused(
    source_client: TikTokClient, world: TikTokWorld, tmp_path: Path
) -> None:
    world.add_creator("alice")
    post = world.add_video("alice")
    cover = post.media.cover_url
    world.patch_item(
        post.id, {"video.playAddr": cover, "video.bitrateInfo.0.PlayAddr.UrlList": [cover]}
    )
    with source_client.open_post(post.url, post.id) as session, pytest.raises(TikrelayError) as c:
        session.download_video(tmp_path / "dl")
    assert c.value.kind is ErrorKind.UNSUPPORTED
    assert "expected a video, got a JPEG image" in c.value.message
    assert [p for p in (tmp_path / "dl").iterdir() if p.is_file()] == []
