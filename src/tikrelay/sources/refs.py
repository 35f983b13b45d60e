"""Source references as users write them, parsed without loading yt-dlp."""

from __future__ import annotations

import re

SITE = "tiktok"
WEB = "https://www.tiktok.com"
_USERNAME = re.compile(r"[A-Za-z0-9_.]{1,24}")
_PROFILE = re.compile(r"https?://(?:www\.|m\.)?tiktok\.com/@([A-Za-z0-9_.]{1,24})/?(?:[?#].*)?")


def parse_creator(ref: str) -> str:
    """``@alice``, ``alice`` or a profile URL → ``alice``; anything else is a ValueError."""
    text = ref.strip()
    if match := _PROFILE.fullmatch(text):
        return match.group(1)
    name = text.removeprefix("@")
    if _USERNAME.fullmatch(name):
        return name
    raise ValueError(
        f"{ref!r} is not a TikTok creator: write it as @username or https://www.tiktok.com/@username"
    )


def post_url(username: str, post_id: str) -> str:
    return f"{WEB}/@{username}/video/{post_id}"


_POST_LINK = re.compile(
    r"https?://(?:www\.|m\.)?tiktok\.com/@([A-Za-z0-9_.]{1,24})/(video|photo)/(\d{1,25})"
    r"/?(?:[?#]\S*)?",
    re.IGNORECASE,
)


def parse_post_link(link: str) -> tuple[str, str] | None:
    """(username, post id) of a TikTok video or photo link, or None for any other text."""
    found = _POST_LINK.fullmatch(link.strip())
    if found is None:
        return None
    return found.group(1), found.group(3)


_SHORT_LINK = re.compile(
    r"https?://(?:(?:vm|vt)\.tiktok\.com/|(?:www\.)?tiktok\.com/t/)([A-Za-z0-9]{4,20})/?(?:[?#]\S*)?",
    re.IGNORECASE,
)


def is_short_link(link: str) -> bool:
    """A TikTok share link (``vm.tiktok.com/…``, ``vt.tiktok.com/…``, ``tiktok.com/t/…``) that
    redirects to a post's page."""
    return _SHORT_LINK.fullmatch(link.strip()) is not None
