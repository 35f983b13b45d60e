"""The reposter's two clients, each made on first use: python-telegram-bot and yt-dlp load only
when there is work for them (a cron run with nothing due starts neither)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from tikrelay.config.paths import StatePaths
from tikrelay.config.settings import Settings

if TYPE_CHECKING:
    import httpx

    from tikrelay.destinations.telegram import TelegramSender
    from tikrelay.reposter.model import DeliverPayload
    from tikrelay.sources.playlists import PlaylistClient
    from tikrelay.sources.session import MediaSession
    from tikrelay.sources.tiktok import TikTokClient
    from tikrelay.sources.web import WebClient


class Clients:
    def __init__(
        self,
        settings: Settings,
        *,
        telegram: TelegramSender | None = None,
        tiktok: TikTokClient | None = None,
    ) -> None:
        self.settings = settings
        self._telegram = telegram
        self._tiktok = tiktok
        self._web: WebClient | None = None
        self._playlists: PlaylistClient | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def telegram(self) -> TelegramSender:
        """The Telegram sender with its flood pacer."""
        if self._telegram is None:
            from tikrelay.destinations.pacer import FloodPacer
            from tikrelay.destinations.telegram import TelegramSender

            telegram = self.settings.telegram
            token = telegram.bot_token
            self._telegram = TelegramSender(
                token.get_secret_value() if token else "",
                api_url=telegram.api_url,
                local_mode=telegram.local_mode,
                pacer=FloodPacer(**telegram.flood.model_dump()),
                # A longer flood wait is scheduled as a retry: a draining run exits meanwhile.
                max_wait=self.settings.jobs.drain_wait_seconds,
            )
        return self._telegram

    @property
    def tiktok(self) -> TikTokClient:
        """The TikTok client (yt-dlp with the network settings)."""
        if self._tiktok is None:
            from tikrelay.sources.tiktok import TikTokClient

            paths = StatePaths(self.settings.state_dir).ensure()
            self._tiktok = TikTokClient(self.settings.network, paths)
        return self._tiktok

    @property
    def web(self) -> WebClient:
        """yt-dlp for links to other sites (the bot's requests), with the bundled ffmpeg."""
        if self._web is None:
            from tikrelay.media.ffmpeg import ffmpeg_path
            from tikrelay.reposter.model import upload_limit
            from tikrelay.sources.web import WebClient

            paths = StatePaths(self.settings.state_dir).ensure()
            self._web = WebClient(
                self.settings.network,
                paths,
                ffmpeg=ffmpeg_path(self.settings.ffmpeg),
                max_bytes=upload_limit(self.settings),
            )
        return self._web

    @property
    def playlists(self) -> PlaylistClient:
        """yt-dlp listing ``url:`` sources (channels and playlists of any site)."""
        if self._playlists is None:
            from tikrelay.sources.playlists import PlaylistClient

            paths = StatePaths(self.settings.state_dir).ensure()
            self._playlists = PlaylistClient(self.settings.network, paths)
        return self._playlists

    @property
    def http(self) -> httpx.AsyncClient:
        """One HTTP client for TikTok's Content Posting API (publish jobs), its connections
        kept from job to job; made in the event loop of its first job, closed by ``aclose``."""
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient()
        return self._http

    async def aclose(self) -> None:
        """The Telegram sender's and the HTTP client's connections closed, if ever made (the
        HTTP client is made anew if a later event loop needs it)."""
        if self._telegram is not None:
            await self._telegram.__aexit__(None, None, None)
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    def close(self) -> None:
        """The kept yt-dlp instances of feed reads, closed (nothing else is kept open)."""
        if self._tiktok is not None:
            self._tiktok.close()

    @asynccontextmanager
    async def post_session(
        self, payload: DeliverPayload, *, attempt: int
    ) -> AsyncIterator[MediaSession]:
        """One post's yt-dlp session (its page read once, its downloads), opened and closed in
        a thread: yt-dlp blocks. A TikTok post, or a link to another site (``web:…``)."""
        from tikrelay.sources.media_urls import WEB

        url, post_id = payload.url, payload.id
        with ExitStack() as stack:
            opened: AbstractContextManager[MediaSession] = (
                self.web.open_link(url, post_id, attempt=attempt, author=payload.author)
                if payload.post.startswith(f"{WEB}:")
                else self.tiktok.open_post(url, post_id, attempt=attempt)
            )
            session = await asyncio.to_thread(stack.enter_context, opened)
            try:
                yield session
            finally:
                await asyncio.to_thread(stack.close)
