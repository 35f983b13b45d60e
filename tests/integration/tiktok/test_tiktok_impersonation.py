"""yt-dlp impersonates Chrome for TikTok pages when curl_cffi is importable, and works without it.

The emulator serves both: the page requests show which client made them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yt_dlp

from tests.support.ytdlp import NO_WATERMARK, RecordingLogger
from tikrelay.sandbox.tiktok import TikTokEmulator, TikTokWorld

pytestmark = pytest.mark.timeout(60)

NO_TARGET_WARNING = "no impersonate target is available"

# ``None`` in sys.modules makes ``import curl_cffi`` raise ImportError, which is exactly how
# yt_dlp.dependencies notices a missing curl_cffi; its request handler then never loads.
WITHOUT_CURL_CFFI = textwrap.dedent(
    """
    import json, sys
    sys.modules["curl_cffi"] = None
    import yt_dlp
    import yt_dlp.dependencies

    proxy, url, outtmpl, spec = sys.argv[1:5]
    warnings = []

    class Logger:
        def debug(self, msg): pass
        def info(self, msg): pass
        def warning(self, msg): warnings.append(msg)
        def error(self, msg): warnings.append(msg)

    options = {"proxy": proxy, "nocheckcertificate": True, "format": spec,
               "outtmpl": outtmpl, "logger": Logger(), "retries": 0}
    with yt_dlp.YoutubeDL(options) as ydl:
        info = ydl.extract_info(url)
    print(json.dumps({
        "curl_cffi": yt_dlp.dependencies.curl_cffi is not None,
        "handler_loaded": "yt_dlp.networking._curlcffi" in sys.modules,
        "path": info["requested_downloads"][0]["filepath"],
        "warnings": warnings,
    }))
    """
)


def test_with_curl_cffi_pages_are_impersonated_and_the_rest_is_not(
    world: TikTokWorld, ydl_opts: dict[str, Any], ytdl_log: RecordingLogger
) -> None:
    creator = world.add_creator("alice", videos=1)
    post = world.add_video("alice")
    with yt_dlp.YoutubeDL({**ydl_opts, "format": NO_WATERMARK}) as ydl:
        ydl.extract_info(post.url)
        ydl.extract_info("https://www.tiktok.com/@alice", download=False, process=False)
        list(ydl.extract_info(f"tiktokuser:{creator.sec_uid}", process=False)["entries"])

    by_path = {r.path: r for r in world.requests()}
    for page in (f"/@alice/video/{post.id}", "/@alice"):
        headers = by_path[page].headers
        assert "Chromium" in headers["sec-ch-ua"], page
        assert headers["sec-ch-ua-platform"]
    for other in world.requests(path="/api/creator/item_list/") + world.requests(
        host="v16-webapp-prime.tiktok.com"
    ):
        assert "sec-ch-ua" not in other.headers
    assert NO_TARGET_WARNING not in ytdl_log.text()


def test_without_curl_cffi_pages_are_plain_requests_and_still_work(
    world: TikTokWorld, emulator: TikTokEmulator, tmp_path: Path
) -> None:
    world.add_creator("alice")
    post = world.add_video("alice")
    args = [emulator.proxy_url, post.url, str(tmp_path / "%(id)s.%(ext)s"), NO_WATERMARK]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_CURL_CFFI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(done.stdout)
    assert (report["curl_cffi"], report["handler_loaded"]) == (False, False)
    assert any(NO_TARGET_WARNING in w for w in report["warnings"])
    assert hashlib.sha256(Path(report["path"]).read_bytes()).hexdigest() == post.sha256
    (page,) = world.requests(host="www.tiktok.com")
    assert "sec-ch-ua" not in page.headers
    assert "Chrome" in page.headers["user-agent"]  # yt-dlp's own random Chrome user agent
