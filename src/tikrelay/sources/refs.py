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


#: The key prefix of ``url:`` sources (channels and playlists yt-dlp lists).
URL_SOURCE = "url"
_TIKTOK_HOST = re.compile(r"(?:[a-z0-9-]+\.)*tiktok\.com", re.IGNORECASE)
#: TikTok pages yt-dlp lists only through the mobile app's API (``TikTokTagIE``,
#: ``TikTokSoundIE``, ``TikTokEffectIE``): they need the app's parameters.
_APP_ONLY = re.compile(r"/(?:tag|music|sticker)/", re.IGNORECASE)


def parse_playlist(ref: str) -> str:
    """A ``url:`` source's address as written (stripped); a ValueError for one tikrelay does
    not list that way: not http(s), a TikTok creator (``tiktok:`` reads those), or a TikTok
    hashtag or sound."""
    from urllib.parse import urlsplit

    text = ref.strip()
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise ValueError(f"{ref!r} is not a URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{ref!r} is not a channel or playlist address: write http(s)://…")
    if _TIKTOK_HOST.fullmatch(parts.hostname):
        if _APP_ONLY.search(parts.path):
            raise ValueError(
                f"{text}: TikTok hashtags and sounds are listed only through the TikTok app's "
                "API, for which yt-dlp needs the app's parameters (app_info); tikrelay does "
                "not take app_info yet, so such a page cannot be watched: watch its creators "
                "with tiktok: '@name' instead"
            )
        if _PROFILE.fullmatch(text):
            raise ValueError(f"{text} is a TikTok creator: write it as tiktok: '{text}'")
    return text


def playlist_key(url: str) -> str:
    """The source key of a ``url:`` source: ``url:`` and the address as written."""
    return f"{URL_SOURCE}:{url}"
