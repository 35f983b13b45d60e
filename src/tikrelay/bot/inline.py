"""Inline mode: ``@bot <link>`` (TikTok, or another site) in any chat answers with the post's
media by Telegram file id.
A post Telegram does not have yet is sent once to ``telegram.storage_chat_id`` (a silent
``request`` job) and the answer waits for it, within Telegram's ten seconds for an inline query."""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from telegram import (
    InlineQuery,
    InlineQueryResultCachedAudio,
    InlineQueryResultCachedPhoto,
    InlineQueryResultCachedVideo,
)
from telegram.error import TelegramError

from tikrelay.bot.model import REQUEST, RequestPayload
from tikrelay.bot.router import links_in_text
from tikrelay.config.settings import DestinationSettings, TelegramDestination
from tikrelay.destinations.telegram import TelegramSender
from tikrelay.domain.errors import TikrelayError
from tikrelay.reposter.file_ids import file_profile
from tikrelay.runtime.app import Runtime
from tikrelay.sources.media_urls import WEB, check_url
from tikrelay.sources.refs import SITE, is_short_link, parse_post_link
from tikrelay.sources.web import web_post_id
from tikrelay.store import files_sql

log = structlog.get_logger("tikrelay.bot")

#: Telegram drops an inline query not answered within 10 s: answer before that in any case.
ANSWER_WITHIN = 8.0
InlineResult = (
    InlineQueryResultCachedVideo | InlineQueryResultCachedPhoto | InlineQueryResultCachedAudio
)


class Inline:
    def __init__(self, runtime: Runtime, sender: TelegramSender, max_bytes: int) -> None:
        self.runtime = runtime
        self.sender = sender
        self.max_bytes = max_bytes
        self.storage = runtime.settings.telegram.storage_chat_id
        self._storage_id: int | None = self.storage if isinstance(self.storage, int) else None
        chat = TelegramDestination(chat_id=self.storage if self.storage is not None else 0)
        # As a chat that asks for a post gets it: the same files, so the ids are shared.
        self.profile = file_profile(DestinationSettings(telegram=chat), max_bytes)

    async def answer(self, query: InlineQuery) -> None:
        started = time.monotonic()
        results: list[InlineResult] = []
        link = next(iter(links_in_text(query.query)), None)
        post = await self._post_key(link) if link else None
        if post is not None and link is not None:
            results = await self._results(post)
            if not results and self.storage is not None:
                await self._upload_once(post, link)
                while not results and time.monotonic() - started < ANSWER_WITHIN:
                    await asyncio.sleep(0.2)
                    results = await self._results(post)
        with contextlib.suppress(TelegramError):  # too late, or the query is gone
            await query.answer(results, cache_time=0 if not results else 300, is_personal=False)

    async def _post_key(self, link: str) -> str | None:
        found = parse_post_link(link)
        if found is None and not is_short_link(link):  # a link to another site
            try:
                check_url(link, WEB, resolve=False)
            except TikrelayError:
                return None
            return f"{WEB}:{web_post_id(link)}"
        if found is None:
            tiktok = self.runtime.reposter.clients.tiktok if self.runtime.reposter else None
            if tiktok is None:
                return None
            with contextlib.suppress(TikrelayError):
                found = await asyncio.to_thread(tiktok.expand, link)
        return f"{SITE}:{found[1]}" if found else None

    async def _results(self, post: str) -> list[InlineResult]:
        queue = self.runtime.queue

        def read() -> list[files_sql.KnownPart]:
            with queue.engine.connect() as conn:
                return files_sql.known_parts(conn, post, self.profile)

        results: list[InlineResult] = []
        for part in await asyncio.to_thread(read):
            for index, file_id in enumerate(part.file_ids):
                key = f"{part.part}-{index}"
                if part.kind == "video":
                    results.append(InlineQueryResultCachedVideo(key, file_id, title="Video"))
                elif part.kind == "album":
                    results.append(InlineQueryResultCachedPhoto(key, file_id))
                else:
                    results.append(InlineQueryResultCachedAudio(key, file_id))
        return results

    async def _upload_once(self, post: str, link: str) -> None:
        """A silent request to the storage chat (one per post while it waits or runs)."""
        assert self.storage is not None
        if self._storage_id is None:  # an @name: its numeric id, once
            chat = await self.sender.bot.get_chat(self.storage)
            self._storage_id = chat.id
        payload = RequestPayload(chat_id=self._storage_id, message_id=0, url=link, silent=True)
        service = self.runtime.service
        await asyncio.to_thread(
            service.enqueue, REQUEST, payload, dedupe_key=f"inline:{post}", priority=3
        )
