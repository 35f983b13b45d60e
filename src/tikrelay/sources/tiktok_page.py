"""The one adapter over yt-dlp's private TikTok page parser.

yt-dlp does not download slideshow images (its TikTok extractor never reads ``imagePost``), and a
plain ``extract_info`` of a slideshow gives only the sound. Reading the post page once through the
extractor's own ``_extract_web_data_and_status`` gives the whole item, with the same headers,
cookies, WAF-challenge solving and impersonation as yt-dlp itself; ``_parse_aweme_video_web`` then
turns a video item into the info dict yt-dlp's format selection and downloader take. Both methods
are private: they are looked up here only, and their absence becomes a clear error instead of an
AttributeError deep inside a job.
"""

from __future__ import annotations

from typing import Any

from yt_dlp import YoutubeDL

from tikrelay.domain.errors import ErrorKind, TikrelayError

_PAGE_METHOD = "_extract_web_data_and_status"
_PARSE_METHOD = "_parse_aweme_video_web"

# TikTok's statusCode on a post page (yt-dlp's TikTokIE._real_extract knows the same ones).
STATUS_OK = 0
STATUS_PRIVATE_POST = 10216
STATUS_PRIVATE_ACCOUNT = 10222
STATUS_IP_BLOCKED = 10204


def _private(ie: Any, name: str) -> Any:
    method = getattr(ie, name, None)
    if not callable(method):
        raise TikrelayError(
            ErrorKind.EXTRACTOR_UPDATE_REQUIRED,
            f"this yt-dlp has no TikTokIE.{name}, which tikrelay uses to read slideshow posts; "
            "install the yt-dlp version tikrelay pins (see pyproject.toml) or a tikrelay release "
            "that supports yours",
            retryable=False,
        )
    return method


def fetch_item(ydl: YoutubeDL, url: str, post_id: str) -> dict[str, Any]:
    """The post's ``itemStruct``; TikTok's status codes become classified errors."""
    ie = ydl.get_info_extractor("TikTok")
    item, status = _private(ie, _PAGE_METHOD)(url, post_id)
    if status in (STATUS_PRIVATE_POST, STATUS_PRIVATE_ACCOUNT):
        raise TikrelayError(ErrorKind.PRIVATE, f"post {post_id} is private", retryable=False)
    if status == STATUS_IP_BLOCKED:
        raise TikrelayError(ErrorKind.GEO_BLOCK, f"TikTok blocks this IP address for {post_id}")
    if status != STATUS_OK or not isinstance(item, dict) or not item:
        raise TikrelayError(
            ErrorKind.DELETED,
            f"post {post_id} is not available (TikTok status {status})",
            retryable=False,
        )
    return item


def video_info(ydl: YoutubeDL, item: dict[str, Any], url: str, post_id: str) -> dict[str, Any]:
    """yt-dlp's info dict for a video item, ready for ``process_ie_result``."""
    ie = ydl.get_info_extractor("TikTok")
    info: dict[str, Any] = _private(ie, _PARSE_METHOD)(item, url, post_id)
    ydl.add_default_extra_info(info, ie, url)
    return info
