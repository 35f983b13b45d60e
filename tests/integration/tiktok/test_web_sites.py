"""The emulator's other web sites (media.example.com and archive.org), read by the real yt-dlp
through the same proxy port with only ``proxy`` and ``nocheckcertificate`` set."""

from __future__ import annotations

import hashlib
import socket
import ssl
from pathlib import Path
from typing import Any

import av
import pytest
import yt_dlp
from yt_dlp.networking import Request
from yt_dlp.networking.exceptions import HTTPError
from yt_dlp.utils import DownloadError

from tests.support.recording import RecordingServer
from tikrelay.sandbox.tiktok import EmulatorControl, TikTokEmulator, TikTokWorld
from tikrelay.sandbox.tiktok.model import ARCHIVE_NODE_HOST, SITE_HOST

pytestmark = pytest.mark.timeout(60)


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def streams(path: str | Path) -> list[tuple[str, str, int]]:
    with av.open(str(path)) as container:
        return [
            (s.type, s.codec_context.name, getattr(s.codec_context, "height", 0))
            for s in container.streams
        ]


def download(opts: dict[str, Any], url: str) -> dict[str, Any]:
    with yt_dlp.YoutubeDL(opts) as ydl:
        info: dict[str, Any] = ydl.extract_info(url)
    return info


def log(world: TikTokWorld, host: str = SITE_HOST) -> list[tuple[str, str, int]]:
    return [(r.method, r.path, r.status) for r in world.requests(host=host)]


@pytest.mark.parametrize(
    ("fixture", "ext", "codecs"),
    [
        ("mp4", "mp4", [("video", "h264", 240), ("audio", "aac", 0)]),
        ("webm", "webm", [("video", "vp9", 240), ("audio", "opus", 0)]),
        ("mp3", "mp3", [("audio", "mp3float", 0)]),
    ],
)
def test_a_direct_file_is_extracted_and_downloaded(
    world: TikTokWorld,
    ydl_opts: dict[str, Any],
    fixture: str,
    ext: str,
    codecs: list[tuple[str, str, int]],
) -> None:
    url = getattr(world.web.site, fixture)
    info = download(ydl_opts, url)
    assert (info["extractor_key"], info["id"], info["ext"]) == ("Generic", Path(url).stem, ext)
    assert info["direct"] is True
    assert [f["vcodec"] for f in info["formats"]] == ["none" if ext == "mp3" else None]
    path = info["requested_downloads"][0]["filepath"]
    assert sha256(path) == sha256(world.web.file(url))
    assert streams(path) == codecs
    # The generic extractor reads the answer's head to see it is media, then downloads it.
    path_on_site = url.removeprefix(f"https://{SITE_HOST}")
    assert log(world) == [("GET", path_on_site, 200)] * 2


def test_a_video_page_offers_two_heights_and_the_higher_one_is_downloaded(
    world: TikTokWorld, ydl_opts: dict[str, Any]
) -> None:
    site = world.web.site
    info = download(ydl_opts, site.video_page)
    assert (info["extractor_key"], info["id"]) == ("HTML5MediaEmbed", "sunset-1")
    assert info["title"] == "Sunset over the bay (1)"
    assert info["description"] == "Two qualities of one clip."
    assert info["thumbnail"] == site.poster
    formats = {f["format_id"]: f for f in info["formats"]}
    assert {k: (f["height"], f["ext"], f["acodec"]) for k, f in formats.items()} == {
        "240p": (240, "mp4", "mp4a.40.2"),
        "144p": (144, "mp4", "mp4a.40.2"),
    }
    assert formats["240p"]["url"] == site.mp4
    assert formats["144p"]["url"] == site.mp4_144p
    assert info["format_id"] == "240p"
    path = info["requested_downloads"][0]["filepath"]
    assert sha256(path) == sha256(world.web.file(site.mp4))
    assert streams(world.web.file(site.mp4_144p))[0] == ("video", "h264", 144)
    assert log(world) == [("GET", "/watch/sunset", 200), ("GET", "/files/clip.mp4", 200)]


def test_an_audio_page_offers_two_audio_only_formats(
    world: TikTokWorld, ydl_opts: dict[str, Any]
) -> None:
    site = world.web.site
    info = download(ydl_opts, site.audio_page)
    assert (info["extractor_key"], info["id"]) == ("HTML5MediaEmbed", "birdsong-1")
    assert info["title"] == "Morning birdsong (1)"
    assert {(f["format_id"], f["ext"], f["vcodec"]) for f in info["formats"]} == {
        ("m4a", "m4a", "none"),
        ("mp3", "mp3", "none"),
    }
    path = info["requested_downloads"][0]["filepath"]
    assert sha256(path) == sha256(world.web.file(site.m4a))
    assert streams(path) == [("audio", "aac", 0)]


def test_added_pages_embed_the_same_clips(world: TikTokWorld, ydl_opts: dict[str, Any]) -> None:
    url = world.web.add_page("harbour", title="Harbour <at> night")
    assert url == f"https://{SITE_HOST}/watch/harbour"
    with yt_dlp.YoutubeDL(ydl_opts) as ydl:
        info = ydl.extract_info(url, download=False)
    assert info["title"] == "Harbour <at> night (1)"
    assert sorted(f["height"] for f in info["formats"]) == [144, 240]
    with pytest.raises(ValueError, match="already exists"):
        world.web.add_page("harbour", title="again")


def test_an_archive_org_item_has_two_qualities_served_from_a_data_node(
    world: TikTokWorld, ydl_opts: dict[str, Any]
) -> None:
    item = world.web.add_archive_item(
        "sunset_reel_1950",
        title="Sunset Reel (1950)",
        creator="Example Films",
        description="A <b>short</b> reel.",
        date="1950-05-01",
    )
    assert item.url == "https://archive.org/details/sunset_reel_1950"
    info = download(ydl_opts, item.url)
    assert (info["extractor_key"], info["id"]) == ("ArchiveOrg", "sunset_reel_1950")
    assert (info["title"], info["creators"]) == ("Sunset Reel (1950)", ["Example Films"])
    assert (info["description"], info["release_date"]) == ("A short reel.", "19500501")
    assert (info["timestamp"], info["display_id"]) == (item.added, "sunset_reel_1950.mp4")
    formats = [(f["height"], f["format"], f["format_note"]) for f in info["formats"]]
    assert formats == [(144, "512Kb MPEG4", "derivative"), (240, "MPEG4", "original")]
    assert info["url"] == item.original.url
    path = info["requested_downloads"][0]["filepath"]
    assert sha256(path) == sha256(world.web.file(item.original.url))
    assert sha256(world.web.file(item.original.node_url)) == sha256(path)
    name = "/sunset_reel_1950/sunset_reel_1950.mp4"
    assert log(world, "archive.org") == [
        ("GET", "/embed/sunset_reel_1950", 200),
        ("GET", "/metadata/sunset_reel_1950", 200),
        ("GET", f"/download{name}", 302),
    ]
    assert log(world, ARCHIVE_NODE_HOST) == [("GET", f"/12/items{name}", 200)]


def test_an_unknown_archive_item_is_a_404(world: TikTokWorld, ydl_opts: dict[str, Any]) -> None:
    with pytest.raises(DownloadError, match="HTTP Error 404"), yt_dlp.YoutubeDL(ydl_opts) as ydl:
        ydl.extract_info("https://archive.org/details/nothing_here", download=False)


def test_plain_http_reaches_the_site_and_other_hosts_get_a_logged_502(
    world: TikTokWorld, emulator: TikTokEmulator, ydl_opts: dict[str, Any]
) -> None:
    url = world.web.site.mp4.replace("https://", "http://")
    info = download(ydl_opts, url)
    assert sha256(info["requested_downloads"][0]["filepath"]) == sha256(world.web.file(url))
    # An absolute-form request straight to the proxy, no CONNECT: answered by the site.
    with socket.create_connection(("127.0.0.1", emulator.port)) as sock:
        sock.sendall(b"HEAD http://media.example.com/watch/sunset HTTP/1.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(DownloadError, match="HTTP Error 502"), yt_dlp.YoutubeDL(ydl_opts) as ydl:
        ydl.extract_info("http://elsewhere.example.net/clip.mp4", download=False)
    assert log(world)[-1] == ("HEAD", "/watch/sunset", 200)
    assert log(world, "elsewhere.example.net") == [("GET", "/clip.mp4", 502)]


def test_a_refused_connect_is_logged(world: TikTokWorld, ydl_opts: dict[str, Any]) -> None:
    with pytest.raises(DownloadError, match="502"), yt_dlp.YoutubeDL(ydl_opts) as ydl:
        ydl.extract_info("https://elsewhere.example.net/clip.mp4", download=False)
    assert log(world, "elsewhere.example.net") == [("CONNECT", "", 502)]


def test_a_redirect_to_loopback_is_served_and_the_proxy_never_goes_there(
    world: TikTokWorld, ydl_opts: dict[str, Any], internal: RecordingServer
) -> None:
    secret = internal.url("/secret")
    url = world.web.redirect(secret)
    # yt-dlp follows; the hop goes to the proxy, which answers 502 for a host it does not serve.
    with yt_dlp.YoutubeDL(ydl_opts) as ydl, pytest.raises(HTTPError) as caught:
        ydl.urlopen(Request(url))
    caught.value.response.close()
    assert caught.value.status == 502
    assert internal.hits == []
    assert log(world) == [("GET", "/go/1", 302)]
    assert [(r.host, r.path, r.status) for r in world.requests()][-1] == (
        "127.0.0.1",
        "/secret",
        502,
    )
    with pytest.raises(ValueError, match="redirect status"):
        world.web.redirect(secret, status=200)


def test_missing_pages_and_pages_without_media(
    world: TikTokWorld, ydl_opts: dict[str, Any]
) -> None:
    site = world.web.site
    with pytest.raises(DownloadError, match="HTTP Error 404"), yt_dlp.YoutubeDL(ydl_opts) as ydl:
        ydl.extract_info(site.missing, download=False)
    with pytest.raises(DownloadError, match="Unsupported URL"), yt_dlp.YoutubeDL(ydl_opts) as ydl:
        ydl.extract_info(site.text_page, download=False)
    assert log(world) == [("GET", "/missing", 404), ("GET", "/about", 200)]


def test_files_answer_head_and_ranges(world: TikTokWorld, ydl_opts: dict[str, Any]) -> None:
    url = world.web.site.webm
    data = world.web.file(url).read_bytes()
    with yt_dlp.YoutubeDL(ydl_opts) as ydl:
        with ydl.urlopen(Request(url, method="HEAD")) as head:
            assert (head.status, head.headers["Content-Length"]) == (200, str(len(data)))
            assert head.headers["Content-Type"] == "video/webm"
        with ydl.urlopen(Request(url, headers={"Range": "bytes=100-199"})) as part:
            assert (part.status, part.read()) == (206, data[100:200])
            assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert [r.method for r in world.requests(host=SITE_HOST)] == ["HEAD", "GET"]


@pytest.mark.parametrize("host", [SITE_HOST, "archive.org", ARCHIVE_NODE_HOST])
def test_the_certificate_names_the_new_hosts(emulator: TikTokEmulator, host: str) -> None:
    context = ssl.create_default_context(cadata=emulator.ca_pem.decode())
    with socket.create_connection(("127.0.0.1", emulator.port)) as sock:
        sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        with context.wrap_socket(sock, server_hostname=host) as tls:
            assert tls.version() is not None


def test_the_control_api_lists_and_adds_web_content(
    world: TikTokWorld, emulator: TikTokEmulator, ydl_opts: dict[str, Any]
) -> None:
    control = EmulatorControl(emulator.control_url)
    item = control.add_archive_item("reel-2", "Reel Two", creator="Someone")
    assert item["url"] == "https://archive.org/details/reel-2"
    assert [f["height"] for f in item["files"]] == [240, 144, 640]
    web = control.web()
    assert web["site"]["video_page"] == world.web.site.video_page
    assert [i["identifier"] for i in web["archive"]] == ["reel-2"]
    redirect = control.web_redirect(world.web.site.video_page, 301)
    with yt_dlp.YoutubeDL(ydl_opts) as ydl:
        info = ydl.extract_info(redirect, download=False)
    assert info["id"] == "sunset-1"
    # The generic extractor follows the redirect, then starts over at the new URL.
    assert [r["status"] for r in control.requests(host=SITE_HOST)] == [301, 200, 200]


def test_fault_switches_apply_to_the_web_sites(
    world: TikTokWorld, ydl_opts: dict[str, Any]
) -> None:
    world.fail_next(f"{SITE_HOST}/files/*", 503)
    with pytest.raises(DownloadError, match="HTTP Error 503"), yt_dlp.YoutubeDL(ydl_opts) as ydl:
        ydl.extract_info(world.web.site.mp4, download=False)
    assert log(world) == [("GET", "/files/clip.mp4", 503)]
