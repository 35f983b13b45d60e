"""The emulated TikTok's content: creators, posts, the media files behind their URLs; and the
other web sites' hosts and archive.org items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

# ``webapp.video-detail.statusCode`` values and what yt-dlp makes of them.
OK = 0
PRIVATE_POST = 10216  # yt-dlp: login required ("You do not have permission to view this post")
PRIVATE_ACCOUNT = 10222  # yt-dlp: login required, on posts and on the profile
IP_BLOCKED = 10204  # yt-dlp: "Your IP address is blocked from accessing this post"
# TikTok's answer for a deleted or unknown post; yt-dlp has no special case for it and says
# "Video not available, status code 100004" (as reported in yt-dlp issue #12992).
REMOVED = 100004

T = TypeVar("T")

WEB_HOST = "www.tiktok.com"
VIDEO_HOST = "v16-webapp-prime.tiktok.com"
MUSIC_HOST = "sf16-ies-music-va.tiktokcdn.com"
IMAGE_HOST = "p16-sign-va.tiktokcdn-us.com"
IMAGE_MIRROR_HOST = "p19-sign-va.tiktokcdn-us.com"
# Other web sites (see web.py): a generic media site under a reserved name, and archive.org
# with the data node its /download/ URLs redirect to.
SITE_HOST = "media.example.com"
ARCHIVE_HOST = "archive.org"
ARCHIVE_HOSTS = (ARCHIVE_HOST, "www.archive.org")
ARCHIVE_NODE_HOST = "ia800300.us.archive.org"
ARCHIVE_NODE_DIR = "12"
# Hosts the proxy serves, also the names on its certificate. A certificate's "*" covers one
# label only, hence "*.us.archive.org" beside "*.archive.org".
EMULATED_HOSTS = (
    "tiktok.com",
    "*.tiktok.com",
    "*.tiktokcdn.com",
    "*.tiktokcdn-us.com",
    "*.tiktokv.com",
    SITE_HOST,
    "archive.org",
    "*.archive.org",
    "*.us.archive.org",
)

# The TikTok app's API (hashtags' and sounds' posts): yt-dlp's default host; the emulator
# answers on any *.tiktokv.com host, as the app's regional hosts all answer.
APP_API_HOST = "api16-normal-c-useast1a.tiktokv.com"
APP_API_DOMAIN = ".tiktokv.com"
# One page of a hashtag's or sound's posts: what yt-dlp asks for and what the app's API sends
# at most.
APP_PAGE_SIZE = 20
APP_PAGE_MAX = 30

# One page of the creator feed: what yt-dlp asks for and what TikTok sends at most.
FEED_PAGE_SIZE = 15
FEED_PAGE_MAX = 35
MAX_SLIDES = 35
# A start cursor is the client's clock; one this close to ours means "from the newest post".
FRESH_CURSOR_MS = 60_000


class PostKind(StrEnum):
    VIDEO = "video"
    SLIDESHOW = "slideshow"


class MediaKind(StrEnum):
    VIDEO = "video"  # on a *.tiktok.com host: needs the tt_chain_token cookie
    AUDIO = "audio"  # on a *.tiktokcdn.com host: needs a valid URL signature
    IMAGE = "image"  # on a *.tiktokcdn-us.com host: needs a valid URL signature


@dataclass(frozen=True)
class MediaFile:
    """What a CDN path serves."""

    path: Path
    content_type: str
    kind: MediaKind
    post_id: str


@dataclass(frozen=True)
class Creator:
    username: str
    nickname: str
    user_id: str
    sec_uid: str
    private: bool = False
    followers: int = 0

    @property
    def url(self) -> str:
        return f"https://{WEB_HOST}/@{self.username}"


@dataclass(frozen=True)
class Slide:
    url: str
    mirror_url: str
    fmt: str  # jpeg, webp or heic
    path: Path
    width: int = 360
    height: int = 640


@dataclass(frozen=True)
class PostMedia:
    """The URLs a post's page lists and the files behind them."""

    cover_url: str
    music_url: str | None = None
    music_path: Path | None = None
    play_url: str | None = None  # clean, muxed H.264 (also listed in bitrateInfo as h264_url)
    h264_url: str | None = None
    download_url: str | None = None  # the watermarked file
    hevc_url: str | None = None  # video-only, higher resolution
    clean_path: Path | None = None
    watermarked_path: Path | None = None
    hevc_path: Path | None = None
    clean_sha256: str | None = None
    clean_size: int = 0
    slides: tuple[Slide, ...] = ()
    width: int = 144
    height: int = 256


@dataclass(frozen=True)
class Post:
    """One post as TikTok shows it."""

    id: str
    kind: PostKind
    username: str
    desc: str
    create_time: int
    variant: int
    media: PostMedia
    duration: int = 1
    stats: dict[str, int] = field(default_factory=dict, compare=False)

    @property
    def url(self) -> str:
        segment = "photo" if self.kind is PostKind.SLIDESHOW else "video"
        return f"https://{WEB_HOST}/@{self.username}/{segment}/{self.id}"

    @property
    def sha256(self) -> str | None:
        """SHA-256 of the file a client should end up with for a video: the clean H.264 one."""
        return self.media.clean_sha256

    @property
    def slides(self) -> tuple[Slide, ...]:
        return self.media.slides

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self.create_time, UTC)


@dataclass(frozen=True)
class Hashtag:
    """A hashtag ("challenge" in the app's API): its posts are those whose text has it."""

    name: str
    id: str

    @property
    def url(self) -> str:
        return f"https://{WEB_HOST}/tag/{quote(self.name)}"


@dataclass(frozen=True)
class Sound:
    """A sound posts use (``music`` in TikTok's data), with its own page."""

    id: str
    title: str
    author: str  # as TikTok shows it: a nickname or an artist

    @property
    def url(self) -> str:
        slug = "-".join("".join(c if c.isalnum() else " " for c in self.title).split())
        return f"https://{WEB_HOST}/music/{slug or 'sound'}-{self.id}"


@dataclass(frozen=True)
class Effect:
    """An effect (``sticker`` in the app's API) posts are made with, with its own page."""

    id: str
    name: str

    @property
    def url(self) -> str:
        slug = "-".join("".join(c if c.isalnum() else " " for c in self.name).split())
        return f"https://{WEB_HOST}/sticker/{slug or 'effect'}-{self.id}"


@dataclass(frozen=True)
class AppInstall:
    """One install of the TikTok app, whose parameters the app's API takes."""

    iid: str
    app_name: str = "musical_ly"
    app_version: str = "35.1.3"
    manifest_app_version: str = "2023501030"
    aid: str = "1233"

    @property
    def app_info(self) -> str:
        """As yt-dlp's ``app_info`` extractor argument takes it."""
        return "/".join(
            (self.iid, self.app_name, self.app_version, self.manifest_app_version, self.aid)
        )

    def accepts(self, query: dict[str, str]) -> bool:
        """Whether a request's parameters are this install's: its app, versions and aid (the
        query yt-dlp builds from ``app_info``)."""
        wanted = {
            "iid": self.iid,
            "app_name": self.app_name,
            "version_name": self.app_version,
            "manifest_version_code": self.manifest_app_version,
            "aid": self.aid,
        }
        return all(query.get(key) == value for key, value in wanted.items())


@dataclass(frozen=True)
class ArchiveFile:
    """One file of an archive.org item, as its metadata lists it."""

    identifier: str
    name: str
    path: Path
    format: str  # archive.org's format name: "MPEG4", "512Kb MPEG4", "Thumbnail"
    source: str  # "original" or "derivative"
    original: str | None = None  # a derivative's original file
    width: int = 0
    height: int = 0

    @property
    def url(self) -> str:
        """What the metadata leads to: a 302 to :attr:`node_url`."""
        return f"https://{ARCHIVE_HOST}/download/{self.identifier}/{quote(self.name)}"

    @property
    def node_url(self) -> str:
        return f"https://{ARCHIVE_NODE_HOST}{self.node_path}"

    @property
    def node_path(self) -> str:
        return f"/{ARCHIVE_NODE_DIR}/items/{self.identifier}/{quote(self.name)}"


@dataclass(frozen=True)
class ArchiveItem:
    """An archive.org item with one video: an original MP4 (240p) and a 512Kb derivative
    (144p), plus a thumbnail."""

    identifier: str
    title: str
    creator: str
    description: str
    date: str | None  # release date, as the uploader wrote it
    added: int  # publicdate, seconds since the epoch
    uploader: str
    files: tuple[ArchiveFile, ...]

    @property
    def url(self) -> str:
        return f"https://{ARCHIVE_HOST}/details/{self.identifier}"

    @property
    def original(self) -> ArchiveFile:
        return self.files[0]

    @property
    def derivative(self) -> ArchiveFile:
        return self.files[1]


def feed_page(
    posts: Sequence[Post], cursor_ms: int, count: int, now_ms: int
) -> tuple[list[Post], bool]:
    """One page of ``/api/creator/item_list/`` with ``type=1``: newest first, older than the cursor.

    ``posts`` must be newest first. yt-dlp pages with ``cursor = createTime * 1000`` of the last
    item it got, so a cursor equal to a post's time is exclusive. Its first cursor is its own
    clock, which may be a moment behind a post added faster than one per second (those are
    stamped a little ahead to keep createTime strictly increasing), hence the "fresh" rule.
    """
    boundaries = {p.create_time * 1000 for p in posts}
    fresh = cursor_ms not in boundaries and cursor_ms >= now_ms - FRESH_CURSOR_MS
    older = [p for p in posts if fresh or p.create_time * 1000 < cursor_ms]
    page = older[: max(1, min(count, FEED_PAGE_MAX))]
    return page, len(older) > len(page)


def app_page(posts: Sequence[T], cursor: int, count: int) -> tuple[list[T], int, bool]:
    """One page of a hashtag's or sound's posts in the app's API: the ``cursor`` is an offset
    into the list (yt-dlp starts at 0 and sends back the ``cursor`` of each answer); the page,
    the next cursor and whether there is more."""
    start = max(0, cursor)
    page = list(posts[start : start + max(1, min(count, APP_PAGE_MAX))])
    end = start + len(page)
    return page, end, end < len(posts)
