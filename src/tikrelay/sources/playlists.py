"""``url:`` sources: any channel or playlist yt-dlp can list (a YouTube channel or playlist, a
TikTok collection, an RSS feed with enclosures, …), read flat: one listing of its first
``depth`` entries, without opening any of them. Each entry is then delivered like a link
someone sent the bot (``sources.web``), and every request of the listing is checked the same
way (``check_url`` with ``WEB``), through the same proxies and certificate settings.

A TikTok hashtag, sound or effect is listed through the TikTok app's API, which yt-dlp reaches
only with the app's parameters (``network.tiktok_app_info``, its ``app_info`` extractor
argument): given to that listing's YoutubeDL alone, so post pages and creators' feeds keep the
web path (yt-dlp would otherwise try the app's API for every post first). Its entries are TikTok
posts, keyed as a creator's are (``tiktok:<id>``) and delivered through a post's page like
theirs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from yt_dlp.extractor.tiktok import TikTokEffectIE, TikTokSoundIE, TikTokTagIE
from yt_dlp.utils import ExtractorError, unsmuggle_url

from tikrelay.config.logging import REDACTED
from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import NetworkSettings
from tikrelay.domain.errors import ErrorKind, TikrelayError
from tikrelay.sources.media_urls import WEB
from tikrelay.sources.refs import APP_INFO_KEY, app_listing, parse_creator, post_url
from tikrelay.sources.tiktok import classified
from tikrelay.sources.transport import GuardedYoutubeDL
from tikrelay.sources.ytdlp import YtdlpLogger, base_options, pick_proxy

#: yt-dlp's extractors of the listings the app's API gives, by ``refs.app_listing``'s kind.
_APP_EXTRACTORS = {"tag": TikTokTagIE, "music": TikTokSoundIE, "sticker": TikTokEffectIE}


@dataclass(frozen=True)
class PlaylistEntry:
    #: The post id: a digest of the entry's identity (see ``entry_identity``); a TikTok post's
    #: own id for a hashtag's or sound's entry.
    id: str
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
        kind = app_listing(url)
        if kind is not None:
            return self._app_latest(url, kind, depth, attempt)
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

    def _app_latest(self, url: str, kind: str, depth: int, attempt: int) -> list[PlaylistEntry]:
        """A hashtag's, sound's or effect's first ``depth`` posts, oldest first, through the
        app's API: straight from yt-dlp's extractor, whose pages are read lazily (20 posts a
        request), without the per-entry processing ``extract_info`` would run for nothing
        read here."""
        app_info = [value.get_secret_value() for value in self.network.tiktok_app_info]
        if not app_info:  # the config check refuses such a source first; a catalog may not
            raise TikrelayError(
                ErrorKind.UNSUPPORTED,
                f"{url}: a TikTok hashtag, sound or effect is listed only with the TikTok app's "
                f"parameters: set {APP_INFO_KEY}",
                retryable=False,
            )
        arguments = {"app_info": app_info}
        if self.network.tiktok_api_hostname is not None:
            arguments["api_hostname"] = [self.network.tiktok_api_hostname]
        proxy = pick_proxy(self.network.proxies, url, attempt)
        options = base_options(
            self.network, ca_folder=self.paths.root, proxy=proxy, cookie_jar=self.paths.cookie_jar
        )
        options["extractor_args"] = {"tiktok": arguments}
        options["logger"] = _HidingLogger(app_info)
        with GuardedYoutubeDL(options, site=WEB, extractors=False) as ydl:
            extractor = _APP_EXTRACTORS[kind]()
            ydl.add_info_extractor(extractor)
            ydl.vet(url)
            try:
                info = extractor.extract(url)
                listed = list(itertools.islice(info.get("entries") or [], depth))
            except Exception as exc:
                error = _app_refusal(url, exc) or classified(ydl, exc)
                # Not chained: yt-dlp's exception may hold a request URL, with the iid in it.
                raise hidden(error, app_info) from None
            ydl.save_cookies()
        return app_entries(listed)


def _secrets(app_info: list[str]) -> list[str]:
    """What an error or a log line must not show: each app_info and its install id (which
    yt-dlp sends as the ``iid`` parameter), the longest first."""
    found = {part for value in app_info for part in (value, value.split("/")[0])}
    return sorted(found, key=len, reverse=True)


def _without(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def hidden(error: TikrelayError, app_info: list[str]) -> TikrelayError:
    """``error`` without the app's parameters in its message (a request URL in a transport
    error would carry them): the message is kept in the job's timeline."""
    message = _without(error.message, _secrets(app_info))
    if message == error.message:
        return error
    return TikrelayError(
        error.kind,
        message,
        retry_after=error.retry_after,
        retryable=error.retryable,
        http_status=error.http_status,
    )


class _HidingLogger(YtdlpLogger):
    """yt-dlp's log lines of an app listing, without the app's parameters."""

    def __init__(self, app_info: list[str]) -> None:
        self._secrets = _secrets(app_info)

    def _hide(self, msg: str) -> str:
        return _without(msg, self._secrets)

    def debug(self, msg: str) -> None:
        super().debug(self._hide(msg))

    def info(self, msg: str) -> None:
        super().info(self._hide(msg))

    def warning(self, msg: str) -> None:
        super().warning(self._hide(msg))

    def error(self, msg: str) -> None:
        super().error(self._hide(msg))


def _app_refusal(url: str, exc: BaseException) -> TikrelayError | None:
    """TikTok's app API answers an install it does not take (an install id that is not a
    genuine one, or parameters that are not its app's) with an empty body, which yt-dlp reads
    as JSON that does not start: the operator's to fix, not a later attempt's."""
    cause = exc.cause if isinstance(exc, ExtractorError) else None
    if not isinstance(cause, json.JSONDecodeError) or cause.pos != 0:
        return None
    return TikrelayError(
        ErrorKind.AUTH,
        f"TikTok's app API answered the listing of {url} with nothing: it does not take the "
        f"install in {APP_INFO_KEY} (not a genuine install id, or not that install's app "
        "name, versions and aid, or one TikTok no longer accepts); set the app_info of a "
        "genuine install of the TikTok app",
        retryable=False,
    )


def app_entries(listed: list[Any]) -> list[PlaylistEntry]:
    """A hashtag's, sound's or effect's posts as the app's API lists them (yt-dlp's
    ``_parse_aweme_video_app``), oldest first: each keyed by its TikTok id, opened at its
    page under its author's name, as a creator's post is. An entry without a numeric id is
    skipped."""
    found: dict[str, PlaylistEntry] = {}
    for entry in listed:
        if not isinstance(entry, dict):
            continue
        post_id = str(entry.get("id") or "")
        if not post_id.isascii() or not post_id.isdigit() or len(post_id) > 30:
            continue
        username = _username(entry.get("uploader"))
        found.setdefault(
            post_id,
            PlaylistEntry(
                id=post_id,
                url=post_url(username or "_", post_id),
                author=f"@{username}" if username else None,
                created_at=_created(entry),
            ),
        )
    entries = list(found.values())[::-1]  # the API lists the newest first
    if all(e.created_at is not None for e in entries):  # a stable sort: ties stay as listed
        entries.sort(key=lambda e: e.created_at or datetime.min.replace(tzinfo=UTC))
    return entries


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


def _username(value: object) -> str | None:
    """A TikTok username as the app's API lists it (``unique_id``), or None."""
    text = _text(value)
    if text is None or text.startswith("@"):
        return None
    try:
        return parse_creator(text)
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
