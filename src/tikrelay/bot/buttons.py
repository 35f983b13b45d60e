"""The buttons under the media the bot sends: 🎵 Sound under a TikTok video, and the quality
buttons (720p, 480p, 🎵 Audio only) under a linked video a site offers in several heights. A press
is a ``request`` job for that variant in that chat, once per message and button, ever."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import TelegramError

from tikrelay.bot import texts
from tikrelay.bot.i18n import RLM, choose, tr
from tikrelay.bot.model import QUALITY_BUTTON, REQUEST, SOUND_BUTTON, RequestPayload, request_key
from tikrelay.destinations.telegram import TelegramSender
from tikrelay.runtime.app import Runtime
from tikrelay.sources.media_urls import WEB
from tikrelay.sources.refs import SITE
from tikrelay.sources.web import AUDIO, HEIGHTS, VARIANTS, link_digest
from tikrelay.store import relay as relay_sql


class Buttons:
    def __init__(self, runtime: Runtime, sender: TelegramSender) -> None:
        self.runtime = runtime
        self.sender = sender

    async def offer_qualities(
        self, payload: RequestPayload, post_key: str, message_id: int
    ) -> None:
        """Under a linked video the site offers in several heights: 720p, 480p (where they
        differ from what was sent) and the sound alone."""
        found = await self._post_data(post_key)
        heights = found.get("heights") if found else None
        if not found or found.get("kind") != "video" or not isinstance(heights, list):
            return
        if len(heights) < 2:
            return
        digest = link_digest(payload.url)
        label = tr(payload.language, texts.AUDIO_ONLY).removeprefix(RLM)
        choices = [(variant, variant) for variant in quality_choices(heights)] + [(label, AUDIO)]
        buttons = [
            InlineKeyboardButton(text, callback_data=f"{QUALITY_BUTTON}{variant}:{digest}")
            for text, variant in choices
        ]
        await self._add_buttons(payload.chat_id, message_id, buttons)

    async def quality_pressed(self, query: CallbackQuery) -> None:
        """A quality button under a linked video: that variant of the link, in that chat (once
        per video and variant)."""
        _, _, rest = (query.data or "").partition(QUALITY_BUTTON)
        variant, _, digest = rest.partition(":")
        if variant in VARIANTS:
            coming = texts.QUALITY_COMING
            await self._pressed(query, f"{WEB}:{digest}", coming, variant, variant=variant)

    async def offer_sound(self, payload: RequestPayload, post_key: str, message_id: int) -> None:
        """A Sound button under a video whose post has a sound."""
        found = await self._post_data(post_key)
        if not found or found.get("kind") != "video" or not found.get("sound"):
            return
        label = tr(payload.language, texts.SOUND).removeprefix(RLM)
        button = InlineKeyboardButton(label, callback_data=f"{SOUND_BUTTON}{found['id']}")
        await self._add_buttons(payload.chat_id, message_id, [button])

    async def sound_pressed(self, query: CallbackQuery) -> None:
        """The Sound button: the post's sound, as audio, in that chat (once per video)."""
        post_id = (query.data or "").removeprefix(SOUND_BUTTON)
        if post_id.isdigit():
            coming = texts.SOUND_COMING
            await self._pressed(query, f"{SITE}:{post_id}", coming, "sound", sound=True)

    async def _post_data(self, post_key: str) -> dict[str, object] | None:
        queue = self.runtime.queue

        def read() -> dict[str, object] | None:
            with queue.engine.connect() as conn:
                return relay_sql.post_data(conn, post_key)

        return await asyncio.to_thread(read)

    async def _add_buttons(
        self, chat_id: int, message_id: int, buttons: list[InlineKeyboardButton]
    ) -> None:
        with contextlib.suppress(TelegramError):  # the media is there all the same
            await self.sender.bot.edit_message_reply_markup(
                chat_id, message_id, reply_markup=InlineKeyboardMarkup([buttons])
            )

    async def _pressed(
        self, query: CallbackQuery, post_key: str, coming: str, button: str, **wanted: Any
    ) -> None:
        """A button under media: the callback answered (``coming``), then a request for the
        post behind it as ``wanted``, once per message and ``button``, ever (no request row:
        the message is the bot's own)."""
        message = query.message
        if not isinstance(message, Message):
            return
        language = choose(None, query.from_user.language_code)
        with contextlib.suppress(TelegramError):
            await query.answer(tr(language, coming).removeprefix(RLM))
        found = await self._post_data(post_key)
        link = found.get("url") if found else None
        if not isinstance(link, str) or not link:
            return
        payload = RequestPayload(
            chat_id=message.chat.id,
            message_id=message.message_id,
            topic_id=message.message_thread_id if message.is_topic_message else None,
            user_id=query.from_user.id,
            url=link,
            language=language,
            **wanted,
        )
        key = f"{request_key(payload.chat_id, payload.message_id)}:{button}"
        service = self.runtime.service
        await asyncio.to_thread(service.enqueue, REQUEST, payload, dedupe_key=key, priority=2)


def quality_choices(heights: list[int]) -> list[str]:
    """The height variants worth a button: each gets a height the best did not, and no two
    get the same one (a site offering 1080p and 480p gets a 480p button, not 720p too)."""
    best = max(heights)
    chosen: dict[int, str] = {}
    for variant, limit in sorted(HEIGHTS.items(), key=lambda item: item[1]):
        fitting = [h for h in heights if h <= limit]
        if fitting and max(fitting) != best and max(fitting) not in chosen:
            chosen[max(fitting)] = variant
    return [chosen[h] for h in sorted(chosen, reverse=True)]
