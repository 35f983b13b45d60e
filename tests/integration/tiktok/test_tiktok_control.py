"""The JSON control API lets another process shape the world and read the request log."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest
import yt_dlp
from yt_dlp.utils import DownloadError

from tests.support.ytdlp import NO_WATERMARK
from tikrelay.sandbox.tiktok import EmulatorControl, TikTokEmulator, TikTokWorld

pytestmark = pytest.mark.timeout(60)


def test_control_api_adds_content_injects_faults_and_reads_the_log(
    world: TikTokWorld, emulator: TikTokEmulator, ydl_opts: dict[str, Any]
) -> None:
    control = EmulatorControl(emulator.control_url)
    creator = control.add_creator("carol", nickname="Carol", videos=2)
    assert creator["secUid"].startswith("MS4wLjABAAAA")
    video = control.add_post("carol", desc="via http", hevc=True)
    slideshow = control.add_post("carol", "slideshow", images=["jpeg", "heic"])
    assert video["hevcUrl"].split("?")[0].endswith("/media-video-hvc1/")
    assert slideshow["url"].endswith(f"/photo/{slideshow['id']}")
    assert len(slideshow["images"]) == 2
    posts = control.call("GET", "/posts?creator=carol")
    assert [p["id"] for p in posts[:2]] == [slideshow["id"], video["id"]]

    with yt_dlp.YoutubeDL({**ydl_opts, "format": NO_WATERMARK}) as ydl:
        info = ydl.extract_info(video["url"])
    assert info["title"] == "via http"

    control.inject(video["id"], "status", status=429)
    with pytest.raises(DownloadError, match="HTTP Error 429"), yt_dlp.YoutubeDL(ydl_opts) as ydl:
        ydl.extract_info(video["url"], download=False)
    control.call("POST", f"/posts/{video['id']}/status", {"status": 10216})
    with pytest.raises(DownloadError, match="permission"), yt_dlp.YoutubeDL(ydl_opts) as ydl:
        ydl.extract_info(video["url"], download=False)

    log = control.requests(host="www.tiktok.com")
    assert [entry["status"] for entry in log] == [200, 429, 200]
    assert log[0]["path"] == f"/@carol/video/{video['id']}"
    assert control.requests(host="v16-webapp-prime.tiktok.com")[0]["cookies"] == ["tt_chain_token"]
    assert control.call("DELETE", "/requests") == {"ok": True}
    assert control.requests() == []


def test_control_api_errors_are_json_and_the_ca_is_served(emulator: TikTokEmulator) -> None:
    control = EmulatorControl(emulator.control_url)
    with pytest.raises(urllib.error.HTTPError) as missing:
        control.add_post("nobody")
    assert missing.value.code == 400
    assert b"nobody" in missing.value.read()
    missing.value.close()
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(f"{emulator.control_url}/ca.pem") as response:
        assert response.read() == emulator.ca_pem
    assert emulator.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
