"""``url:`` sources: any channel or playlist yt-dlp can list (a YouTube channel or playlist, a
TikTok collection, an RSS feed with enclosures, …), read flat: one listing of its first
``depth`` entries, without opening any of them. Each entry is then delivered like a link
someone sent the bot (``sources.web``), and every request of the listing is checked the same
way (``check_url`` with ``WEB``), through the same proxies and certificate settings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from yt_dlp.utils import unsmuggle_url

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import NetworkSettings
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.sources.media_urls import WEB
from tikrelay.sources.tiktok import classified
from tikrelay.sources.transport import GuardedYoutubeDL
from tikrelay.sources.ytdlp import base_options, pick_proxy


@dataclass(frozen=True)
class PlaylistEntry:
    id: str  # the post id: a digest of the entry's identity (see ``entry_identity``)
    url: str  # what its delivery opens
    author: str | None  # the entry's uploader as listed, else the feed's title
    created_at: datetime | None


class PlaylistClient:
    """yt-dlp listing channels and playlists, with the network settings."""

    def __init__(self, network: NetworkSettings, paths: StatePaths) -> None:
        self.network = network
        self.paths = paths

    def latest(self, url: str, depth: int, *, attempt: int = 0) -> list[PlaylistEntry]:
        """The first ``depth`` entries of the listing, oldest first."""
        proxy = pick_proxy(self.network.proxies, url, attempt)
        options = base_options(
            self.network, ca_folder=self.paths.root, proxy=proxy, cookie_jar=self.paths.cookie_jar
        )
        options |= {
            "noplaylist": False,
            "extract_flat": "in_playlist",
            "playlistend": depth,
            "skip_download": True,
        }
        with GuardedYoutubeDL(options, site=WEB) as ydl:
            ydl.vet(url)
            try:
                info = ydl.extract_info(url, download=False)
            except Exception as exc:
                raise classified(ydl, exc) from exc
            ydl.save_cookies()
        if not isinstance(info, dict):
            raise TikrelayError(ErrorKind.EXTRACTOR, f"yt-dlp returned nothing for {url}")
        if info.get("_type") != "playlist":
            raise TikrelayError(
                ErrorKind.UNSUPPORTED,
                f"{url} is a single post, not a channel or playlist yt-dlp can list",
                retryable=False,
            )
        return entries_of(info, depth)


def entries_of(info: dict[str, Any], depth: int) -> list[PlaylistEntry]:
    """A flat playlist's first ``depth`` entries as sources list them, oldest first: by their
    times when every entry has one, else in reverse (channels and feeds put the newest first)."""
    feed_title = _text(info.get("title"))
    listed = [e for e in info.get("entries") or [] if isinstance(e, dict)][:depth]
    found: list[PlaylistEntry] = []
    for entry in listed:
        identity, url = entry_identity(entry, str(info.get("extractor_key") or ""))
        if identity is None or url is None:
            continue
        found.append(
            PlaylistEntry(
                id=hashlib.sha256(identity.encode()).hexdigest()[:20],
                url=url,
                author=entry_author(entry, feed_title),
                created_at=_created(entry),
            )
        )
    if found and all(e.created_at is not None for e in found):
        return sorted(found, key=lambda e: e.created_at or datetime.min.replace(tzinfo=UTC))
    return found[::-1]


def entry_identity(entry: dict[str, Any], listing_ie: str) -> tuple[str | None, str | None]:
    """(identity, URL) of a flat entry: its extractor and id (``youtube:dQw4w9WgXcQ``; a feed
    item's guid counts as its id), else its URL; the URL its delivery opens (without yt-dlp's
    smuggled data). None for an entry without a usable URL."""
    raw = entry.get("url") or entry.get("webpage_url")
    if not isinstance(raw, str) or not raw.strip():
        return None, None
    url, smuggled = unsmuggle_url(raw.strip(), {})
    native = entry.get("id") or smuggled.get("force_videoid")
    if isinstance(native, str | int) and str(native).strip():
        ie = str(entry.get("ie_key") or listing_ie or "web").lower()
        return f"{ie}:{str(native).strip()}", url
    return url, url  # its digest is link_digest(url): the post id the bot gives the link


def entry_author(entry: dict[str, Any], feed_title: str | None) -> str | None:
    """Who a caption names for an entry: its uploader (or channel) as listed, else the feed's
    title."""
    for key in ("uploader", "channel", "uploader_id"):
        if (found := _text(entry.get(key))) is not None:
            return found
    return feed_title


def _created(entry: dict[str, Any]) -> datetime | None:
    stamp = entry.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return datetime.fromtimestamp(stamp, UTC)
    return None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
