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
#: TikTok pages yt-dlp lists only through the mobile app's API, with the app's parameters
#: (``app_info``): a hashtag (``TikTokTagIE``), a sound (``TikTokSoundIE``) and an effect
#: (``TikTokEffectIE``), as their extractors' URL patterns take them.
_APP_LISTINGS = {
    "tag": re.compile(r"https?://(?:www\.)?tiktok\.com/tag/[^/?#&]+/?(?:[?#].*)?", re.IGNORECASE),
    "music": re.compile(
        r"https?://(?:www\.)?tiktok\.com/music/[\w.-]+-\d+/?(?:[?#].*)?", re.IGNORECASE
    ),
    "sticker": re.compile(
        r"https?://(?:www\.)?tiktok\.com/sticker/[\w.-]+-\d+/?(?:[?#].*)?", re.IGNORECASE
    ),
}
_APP_PAGES = re.compile(r"/(?:tag|music|sticker)/", re.IGNORECASE)
#: The setting that holds the app's parameters (config.settings.NetworkSettings).
APP_INFO_KEY = "network.tiktok_app_info"


def app_listing(url: str) -> str | None:
    """``tag``, ``music`` or ``sticker`` for a TikTok hashtag's, sound's or effect's page
    (listed through the app's API, its posts keyed as TikTok posts); None for any other
    address."""
    return next((kind for kind, page in _APP_LISTINGS.items() if page.fullmatch(url)), None)


def parse_playlist(ref: str, *, app_info: bool = True) -> str:
    """A ``url:`` source's address as written (stripped); a ValueError for one tikrelay does
    not list that way: not http(s), a TikTok creator (``tiktok:`` reads those), or (without
    ``app_info``: ``network.tiktok_app_info`` is not set) a TikTok hashtag, sound or
    effect."""
    from urllib.parse import urlsplit

    text = ref.strip()
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise ValueError(f"{ref!r} is not a URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{ref!r} is not a channel or playlist address: write http(s)://…")
    if _TIKTOK_HOST.fullmatch(parts.hostname):
        if _APP_PAGES.search(parts.path):
            _check_app_listing(text, app_info)
        elif _PROFILE.fullmatch(text):
            raise ValueError(f"{text} is a TikTok creator: write it as tiktok: '{text}'")
    return text


def _check_app_listing(url: str, app_info: bool) -> None:
    """A hashtag, sound or effect tikrelay can list, with the app's parameters set; else why
    not."""
    if app_listing(url) is None:
        raise ValueError(
            f"{url} is not a TikTok hashtag, sound or effect page: write it as "
            "https://www.tiktok.com/tag/NAME, https://www.tiktok.com/music/TITLE-ID or "
            "https://www.tiktok.com/sticker/NAME-ID, as TikTok's share links give them"
        )
    if not app_info:
        raise ValueError(
            f"{url}: TikTok hashtags, sounds and effects are listed only through the TikTok "
            "app's API, for which yt-dlp needs the app's parameters (app_info): set "
            f"{APP_INFO_KEY} to <iid>/<app_name>/<app_version>/<manifest_app_version>/<aid> "
            "of a genuine install of the TikTok app (the iid its requests to *.tiktokv.com "
            "carry, read through an intercepting proxy: docs/reposting.md#url-sources), or "
            "watch the creators who post there with tiktok: '@name' instead"
        )


def playlist_key(url: str) -> str:
    """The source key of a ``url:`` source: ``url:`` and the address as written."""
    return f"{URL_SOURCE}:{url}"
