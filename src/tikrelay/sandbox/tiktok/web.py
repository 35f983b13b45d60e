"""Web sites other than TikTok, served through the same proxy port: a generic media site
(``media.example.com``, over https and plain http) and archive.org.

yt-dlp reads the generic site with its generic extractor (direct file links, ``<video>`` and
``<audio>`` pages). Its ``ArchiveOrgIE`` asks for ``archive.org/embed/ID`` (the player, whose
``<play-av playlist=…>`` names the item's entries), then ``archive.org/metadata/ID`` (metadata
and the file list: originals and the derivatives that point at them with ``original``), and
downloads ``archive.org/download/ID/NAME``, which answers 302 to a data node
(``ia800300.us.archive.org/12/items/ID/NAME``) as the real site does.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from tikrelay.sandbox.fixtures import MediaFixtures
from tikrelay.sandbox.tiktok.media import WEB_DURATION, WebMedia, file_response
from tikrelay.sandbox.tiktok.model import (
    ARCHIVE_HOSTS,
    ARCHIVE_NODE_DIR,
    ARCHIVE_NODE_HOST,
    SITE_HOST,
    ArchiveFile,
    ArchiveItem,
)
from tikrelay.sandbox.tiktok.wire import Request, Response

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,99}")
_PAGE = re.compile(r"/(?P<kind>watch|listen)/(?P<slug>[a-z0-9-]+)/?")
_ITEM = re.compile(r"/(?P<what>details|embed|metadata)/(?P<id>[^/]+)(?:/.*)?")
_FEED = re.compile(r"/feeds/(?P<slug>[a-z0-9-]+)\.xml")
_DOWNLOAD = re.compile(r"/download/(?P<id>[^/]+)/(?P<name>.+)")
_PAGE_KINDS = {"video": "watch", "audio": "listen"}
_REDIRECTS = (301, 302, 303, 307, 308)
# H.264 Constrained Baseline at the level x264 picks for each size, AAC-LC.
_CODECS = {240: "avc1.42C00C, mp4a.40.2", 144: "avc1.42C00B, mp4a.40.2"}
_FILES = {  # path on the site: (recipe, content type)
    "/files/clip.mp4": ("video-240", "video/mp4"),
    "/files/clip-144p.mp4": ("video-144", "video/mp4"),
    "/files/clip.webm": ("webm", "video/webm"),
    "/files/song.mp3": ("mp3", "audio/mpeg"),
    "/files/song.m4a": ("m4a", "audio/mp4"),
    "/files/poster.jpg": ("poster", "image/jpeg"),
}


@dataclass(frozen=True)
class SiteUrls:
    """The generic site's fixtures, as https URLs; the same paths answer over plain http."""

    mp4: str  # H.264 + AAC MP4, 320x240, 2 s (also the video page's 240p source)
    mp4_144p: str  # the same clip, 256x144
    webm: str  # VP9 + Opus, 320x240
    mp3: str
    m4a: str  # AAC
    poster: str  # JPEG
    video_page: str  # <video> with two <source>s: 240p and 144p H.264 MP4s
    audio_page: str  # <audio> with two <source>s: M4A and MP3
    text_page: str  # HTML without any media (yt-dlp: Unsupported URL)
    missing: str  # 404


@dataclass(frozen=True)
class _FeedItem:
    link: str
    title: str
    guid: str | None
    published: int  # Unix time


@dataclass
class _Feed:
    title: str
    items: list[_FeedItem] = field(default_factory=list)  # newest first


def _rss(feed: _Feed) -> str:
    """RSS 2.0 as podcasts and blogs serve it: each item's link, and an enclosure for yt-dlp."""
    items = "".join(
        "<item>"
        f"<title>{html.escape(item.title)}</title>"
        f"<link>{html.escape(item.link)}</link>"
        f'<enclosure url="{html.escape(item.link, quote=True)}" type="text/html"/>'
        + (f'<guid isPermaLink="false">{html.escape(item.guid)}</guid>' if item.guid else "")
        + f"<pubDate>{formatdate(item.published, usegmt=True)}</pubDate>"
        "</item>\n"
        for item in feed.items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{html.escape(feed.title)}</title><link>https://{SITE_HOST}/</link>"
        f"<description>{html.escape(feed.title)}</description>\n{items}</channel></rss>\n"
    )


@dataclass(frozen=True)
class _Page:
    kind: str  # video or audio
    title: str
    description: str
    heights: tuple[int, int] = (240, 144)  # what the two <source>s claim (res, label)


class WebSites:
    """The non-TikTok sites of a world (``world.web``). Media files are made on first use."""

    def __init__(self, fixtures: MediaFixtures, *, clock: Callable[[], float] = time.time) -> None:
        self._media = WebMedia(fixtures)
        self._clock = clock
        self._lock = threading.RLock()
        self._files: dict[str, tuple[Path, str]] = {}
        self._pages: dict[str, _Page] = {}
        self._redirects: dict[str, tuple[int, str]] = {}
        self._items: dict[str, ArchiveItem] = {}
        self._node_files: dict[str, ArchiveFile] = {}
        self._feeds: dict[str, _Feed] = {}
        self._video_page = self.add_page(
            "sunset", title="Sunset over the bay", description="Two qualities of one clip."
        )
        self._audio_page = self.add_page("birdsong", title="Morning birdsong", kind="audio")

    # -- content -----------------------------------------------------------------------------

    @property
    def site(self) -> SiteUrls:
        """The generic site's fixed fixtures (makes the media files on first use)."""
        self.prepare()
        base = f"https://{SITE_HOST}"
        return SiteUrls(
            mp4=f"{base}/files/clip.mp4",
            mp4_144p=f"{base}/files/clip-144p.mp4",
            webm=f"{base}/files/clip.webm",
            mp3=f"{base}/files/song.mp3",
            m4a=f"{base}/files/song.m4a",
            poster=f"{base}/files/poster.jpg",
            video_page=self._video_page,
            audio_page=self._audio_page,
            text_page=f"{base}/about",
            missing=f"{base}/missing",
        )

    def add_page(
        self,
        slug: str,
        *,
        title: str,
        kind: str = "video",
        description: str = "",
        heights: tuple[int, int] = (240, 144),
    ) -> str:
        """Another page on the generic site embedding the fixture clips (``video``: 240p and
        144p MP4s in ``<video>``) or sounds (``audio``: M4A and MP3 in ``<audio>``); its URL.
        ``heights``: what the two video sources claim to be (``res``, ``label``), e.g.
        ``(720, 480)`` for a site that offers those qualities (the files stay small)."""
        if kind not in _PAGE_KINDS:
            raise ValueError(f"a page's kind is one of {sorted(_PAGE_KINDS)}, not {kind!r}")
        if not _SLUG.fullmatch(slug):
            raise ValueError(f"a slug is lower-case letters, digits and dashes, not {slug!r}")
        path = f"/{_PAGE_KINDS[kind]}/{slug}"
        with self._lock:
            if path in self._pages:
                raise ValueError(f"page {path} already exists")
            self._pages[path] = _Page(kind, title, description, heights)
        return f"https://{SITE_HOST}{path}"

    def redirect(self, location: str, status: int = 302) -> str:
        """A URL on the generic site that answers ``status`` with ``Location: location``, e.g. to
        ``http://127.0.0.1:PORT/secret`` (never followed by the proxy itself)."""
        if status not in _REDIRECTS:
            raise ValueError(f"a redirect status is one of {_REDIRECTS}, not {status}")
        with self._lock:
            path = f"/go/{len(self._redirects) + 1}"
            self._redirects[path] = (status, location)
        return f"https://{SITE_HOST}{path}"

    def add_archive_item(
        self,
        identifier: str,
        *,
        title: str,
        creator: str = "Example Films",
        description: str = "",
        date: str | None = None,
        uploader: str = "uploader@example.org",
    ) -> ArchiveItem:
        """An item at ``https://archive.org/details/IDENTIFIER`` holding one video in two
        qualities: ``IDENTIFIER.mp4`` (original, 320x240) and ``IDENTIFIER_512kb.mp4``
        (derivative "512Kb MPEG4", 256x144); published now by the world's clock."""
        if not _IDENTIFIER.fullmatch(identifier):
            raise ValueError(f"an identifier is letters, digits and '._-', not {identifier!r}")
        self.prepare()
        media, original = self._media, f"{identifier}.mp4"
        files = (
            ArchiveFile(
                identifier, original, media.video(240), "MPEG4", "original", width=320, height=240
            ),
            ArchiveFile(
                identifier,
                f"{identifier}_512kb.mp4",
                media.video(144),
                "512Kb MPEG4",
                "derivative",
                original=original,
                width=256,
                height=144,
            ),
            ArchiveFile(
                identifier,
                f"{identifier}.thumbs/{identifier}_000001.jpg",
                media.poster(),
                "Thumbnail",
                "derivative",
                original=original,
                width=360,
                height=640,
            ),
        )
        item = ArchiveItem(
            identifier, title, creator, description, date, int(self._clock()), uploader, files
        )
        with self._lock:
            if identifier in self._items:
                raise ValueError(f"archive.org item {identifier} already exists")
            self._items[identifier] = item
            self._node_files.update({f.node_path: f for f in files})
        return item

    def add_feed(self, slug: str, *, title: str) -> str:
        """An RSS feed on the generic site, empty until ``add_feed_item``; its URL (yt-dlp's
        generic extractor lists it as a playlist, newest item first)."""
        if not _SLUG.fullmatch(slug):
            raise ValueError(f"a slug is lower-case letters, digits and dashes, not {slug!r}")
        with self._lock:
            if slug in self._feeds:
                raise ValueError(f"feed {slug} already exists")
            self._feeds[slug] = _Feed(title)
        return f"https://{SITE_HOST}/feeds/{slug}.xml"

    def add_feed_item(self, slug: str, link: str, *, title: str, guid: str | None = None) -> None:
        """An item at the top of a feed, linking to ``link`` (a page of the site, a media file,
        an archive.org item), published now by the world's clock (each a second after the
        previous one at least)."""
        with self._lock:
            feed = self._feeds[slug]
            published = max(int(self._clock()), feed.items[0].published + 1 if feed.items else 0)
            feed.items.insert(0, _FeedItem(link, title, guid, published))

    # -- reading -----------------------------------------------------------------------------

    def archive_items(self) -> list[ArchiveItem]:
        with self._lock:
            return list(self._items.values())

    def file(self, url: str) -> Path:
        """The file on disk behind a media URL of these sites (KeyError if there is none)."""
        parts = urlsplit(url)
        path = unquote(parts.path)
        with self._lock:
            if parts.hostname == SITE_HOST and path in self._files:
                return self._files[path][0]
            if parts.hostname == ARCHIVE_NODE_HOST and parts.path in self._node_files:
                return self._node_files[parts.path].path
            if parts.hostname in ARCHIVE_HOSTS and (match := _DOWNLOAD.fullmatch(path)):
                item = self._items.get(match["id"])
                found = [f for f in item.files if f.name == match["name"]] if item else []
                if found:
                    return found[0].path
        raise KeyError(f"no file behind {url}")

    @property
    def prepared(self) -> bool:
        with self._lock:
            return bool(self._files)

    def prepare(self) -> None:
        """Make (or find in the cache) the media files; idempotent."""
        with self._lock:
            if self._files:
                return
            media = self._media
            recipes: dict[str, Callable[[], Path]] = {
                "video-240": lambda: media.video(240),
                "video-144": lambda: media.video(144),
                "webm": media.webm,
                "mp3": media.mp3,
                "m4a": media.m4a,
                "poster": media.poster,
            }
            self._files = {
                path: (recipes[recipe](), content_type)
                for path, (recipe, content_type) in _FILES.items()
            }

    # -- serving (called by the site for every request to these hosts) -----------------------

    @staticmethod
    def serves(host: str) -> bool:
        return host in (SITE_HOST, ARCHIVE_NODE_HOST, *ARCHIVE_HOSTS)

    def route(self, request: Request, rate: int | None) -> Response:
        """Answer a GET or HEAD; media files go at ``rate`` bytes a second (None: full speed)."""
        self.prepare()
        with self._lock:
            if request.host == SITE_HOST:
                return self._site(request, rate)
            if request.host == ARCHIVE_NODE_HOST:
                file = self._node_files.get(request.path)
                if file is None:
                    return _not_found()
                return file_response(request, file.path, _content_type(file.name), rate=rate)
            return self._archive(request)

    def _site(self, request: Request, rate: int | None) -> Response:
        path = request.path
        if (file := self._files.get(path)) is not None:
            return file_response(request, file[0], file[1], rate=rate)
        if match := _PAGE.fullmatch(path):
            page = self._pages.get(f"/{match['kind']}/{match['slug']}")
            if page is not None:
                return Response.text(200, self._page_html(page), "text/html")
        if (found := _FEED.fullmatch(path)) and (feed := self._feeds.get(found["slug"])):
            return Response.text(200, _rss(feed), "application/rss+xml")
        if path in self._redirects:
            status, location = self._redirects[path]
            return Response(status, [("Location", location)])
        if path == "/about":
            body = "<p>Example Media hosts short clips. There is nothing to play here.</p>"
            return Response.text(200, _html("About Example Media", body), "text/html")
        return _not_found()

    def _page_html(self, page: _Page) -> str:
        base = f"https://{SITE_HOST}"
        title = html.escape(page.title)
        head = (
            f'<meta property="og:title" content="{title}">\n'
            f'<meta property="og:image" content="{base}/files/poster.jpg">\n'
        )
        if page.description:
            description = html.escape(page.description)
            head += f'<meta property="og:description" content="{description}">\n'
        if page.kind == "video":
            sources = "".join(
                f'  <source src="{src}" type=\'video/mp4; codecs="{_CODECS[real]}"\''
                f' res="{height}" label="{height}p">\n'
                for src, real, height in (
                    ("/files/clip.mp4", 240, page.heights[0]),
                    ("/files/clip-144p.mp4", 144, page.heights[1]),
                )
            )
            player = (
                '<video controls preload="metadata" poster="/files/poster.jpg" width="320"'
                f' height="240">\n{sources}</video>'
            )
        else:
            player = (
                "<audio controls>\n"
                '  <source src="/files/song.m4a" type=\'audio/mp4; codecs="mp4a.40.2"\''
                ' label="m4a">\n'
                '  <source src="/files/song.mp3" type="audio/mpeg" label="mp3">\n'
                "</audio>"
            )
        return _html(f"{title} | Example Media", f"<h1>{title}</h1>\n{player}", head)

    # -- archive.org ---------------------------------------------------------------------------

    def _archive(self, request: Request) -> Response:
        path = unquote(request.path)
        if match := _DOWNLOAD.fullmatch(path):
            item = self._items.get(match["id"])
            found = [f for f in item.files if f.name == match["name"]] if item else []
            if not found:
                return _not_found()
            return Response(302, [("Location", found[0].node_url)])
        match = _ITEM.fullmatch(path)
        if match is None:
            return _not_found()
        item = self._items.get(match["id"])
        if match["what"] == "metadata":
            # archive.org answers an unknown identifier with an empty object, not a 404.
            return Response.json(200, _metadata(item) if item else {})
        if item is None:
            return _not_found()
        title = html.escape(f"{item.title} : {item.creator} : Internet Archive")
        if match["what"] == "embed":
            player = html.escape(json.dumps(_playlist(item)), quote=True)
            body = f'<play-av playlist="{player}" class="js-play-av"></play-av>'
            return Response.text(200, _html(title, body), "text/html")
        head = f'<meta property="og:title" content="{html.escape(item.title)}">\n'
        body = f"<h1>{html.escape(item.title)}</h1>\n<p>{html.escape(item.description)}</p>"
        return Response.text(200, _html(title, body, head), "text/html")


def _playlist(item: ArchiveItem) -> list[dict[str, object]]:
    """What the embed page's ``play-av`` element lists: one entry, the original video."""
    video = item.original
    sources = [
        {
            "file": f"/download/{item.identifier}/{quote(f.name)}",
            "type": "mp4",
            "height": str(f.height),
            "width": str(f.width),
            "label": f"{f.height}p",
        }
        for f in item.files[:2]
    ]
    return [
        {
            "title": item.title,
            "orig": video.name,
            "image": f"/download/{item.identifier}/{quote(item.files[2].name)}",
            "duration": f"{WEB_DURATION:.2f}",
            "sources": sources,
            "tracks": [],
        }
    ]


def _metadata(item: ArchiveItem) -> dict[str, object]:
    """``archive.org/metadata/ID``: sizes and numbers as strings, as archive.org sends them."""
    added = datetime.fromtimestamp(item.added, UTC).strftime("%Y-%m-%d %H:%M:%S")
    metadata: dict[str, object] = {
        "identifier": item.identifier,
        "mediatype": "movies",
        "collection": ["opensource_movies", "community"],
        "title": item.title,
        "creator": item.creator,
        "description": item.description,
        "uploader": item.uploader,
        "publicdate": added,
        "addeddate": added,
        "licenseurl": "http://creativecommons.org/licenses/by/4.0/",
    }
    if item.date:
        metadata["date"] = item.date
    files = []
    for f in item.files:
        entry: dict[str, object] = {
            "name": f.name,
            "source": f.source,
            "format": f.format,
            "size": str(f.path.stat().st_size),
            "mtime": str(item.added),
            "width": str(f.width),
            "height": str(f.height),
        }
        if f.original:
            entry["original"] = f.original
        if f.format != "Thumbnail":
            entry["length"] = f"{WEB_DURATION:.2f}"
        files.append(entry)
    return {
        "created": item.added,
        "d1": ARCHIVE_NODE_HOST,
        "dir": f"/{ARCHIVE_NODE_DIR}/items/{item.identifier}",
        "server": ARCHIVE_NODE_HOST,
        "files": files,
        "files_count": len(files),
        "metadata": metadata,
        "reviews": [],
    }


def _content_type(name: str) -> str:
    return "image/jpeg" if name.endswith(".jpg") else "video/mp4"


def _html(title: str, body: str, head: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n{head}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _not_found() -> Response:
    return Response.text(404, _html("Not Found", "<h1>Not Found</h1>"), "text/html")
