"""``TelegramSender``: videos, photos and sounds to a chat or forum topic, within flood limits.

A thin port over python-telegram-bot's ``Bot`` (no ``Application``): files are streamed from disk,
or named by ``file://`` path to a local Bot API server; every call waits for its slot in the
``FloodPacer``; a 429 pauses only its chat and is retried (nothing was delivered); every other
refusal leaves as a classified ``TikrelayError`` that never carries the token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, TypeVar

import structlog
from telegram import (
    Bot,
    ChatFullInfo,
    InputFile,
    InputMediaPhoto,
    Message,
    ReactionTypeEmoji,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from tikrelay.destinations.pacer import FloodPacer
from tikrelay.destinations.target import ChatTarget, Probe
from tikrelay.destinations.telegram_checks import DestinationCheck, assess_destination
from tikrelay.destinations.telegram_errors import (
    AlbumPartiallySentError,
    describe_target,
    flood_wait_error,
    retry_after_seconds,
    telegram_error,
)
from tikrelay.destinations.telegram_redaction import REDACTOR
from tikrelay.domain.errors import ErrorKind, TikrelayError

T = TypeVar("T")
log = structlog.get_logger(__name__)

ALBUM_LIMIT = 10
#: A file to send: on disk, or a Telegram file id (a file Telegram has already).
Media = Path | str
# Telegram answers a send only once it has stored (and, for videos, inspected) the file, which
# takes longer than PTB's 5 s default; an answer that never comes leaves delivery unknown.
_READ_TIMEOUT = 60.0
# A 50 MB video over a slow uplink needs minutes, not PTB's default 20 s.
_MEDIA_WRITE_TIMEOUT = 600.0


class TelegramSender:
    """Posts to Telegram through one bot; use as ``async with TelegramSender(...) as sender``.

    ``sleep`` waits out a 429 when there is no pacer (with one, the pacer's sleep does).
    ``max_wait``: the longest a call waits for a chat Telegram has paused; a longer pause is
    raised at once as a RATE_LIMIT error with ``retry_after``, for the job engine to schedule (a
    cron run must not sit out a day-long flood wait). None waits out any pause.
    """

    def __init__(
        self,
        token: str,
        *,
        api_url: str,
        local_mode: bool = False,
        pacer: FloodPacer | None = None,
        max_429_retries: int = 3,
        max_wait: float | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        # Before the Bot exists: PTB logs its base URL, token included, as it is built.
        REDACTOR.add(token)
        self._api_url = api_url.rstrip("/")
        self._local_mode = local_mode
        self._pacer = pacer
        self._max_429_retries = max_429_retries
        self._max_wait = max_wait
        self._sleep = sleep
        if not token:
            raise TikrelayError(
                ErrorKind.AUTH, "no bot token: set TELEGRAM_BOT_TOKEN", retryable=False
            )
        self._bot = Bot(
            token,
            base_url=f"{self._api_url}/bot",
            base_file_url=f"{self._api_url}/file/bot",
            local_mode=local_mode,
            request=HTTPXRequest(
                read_timeout=_READ_TIMEOUT, media_write_timeout=_MEDIA_WRITE_TIMEOUT
            ),
        )
        self._opened = False
        self._opening = asyncio.Lock()

    @property
    def pacer(self) -> FloodPacer | None:
        return self._pacer

    def __repr__(self) -> str:
        return f"TelegramSender(api_url={self._api_url!r}, local_mode={self._local_mode})"

    async def __aenter__(self) -> TelegramSender:
        await self.open()
        return self

    async def open(self) -> None:
        """Connect and ask who the bot is (getMe), once; every call does it first, so a run
        with nothing to send never talks to Telegram."""
        if self._opened:
            return
        async with self._opening:
            if self._opened:
                return
            try:
                await self._request(None, 0, self._bot.initialize)
            except BaseException:
                await self._bot.shutdown()  # closes the connections initialize opened
                raise
            self._opened = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._bot.shutdown()
        self._opened = False  # a later call connects again

    @property
    def bot(self) -> Bot:
        """The python-telegram-bot ``Bot`` behind this sender (for the interactive bot's router)."""
        return self._bot

    # -- the interactive bot -----------------------------------------------------------------

    async def updates(self, offset: int | None, *, long_poll: int) -> list[Update]:
        """Updates after ``offset`` (long polling for up to ``long_poll`` s); taking ``offset``
        confirms to Telegram every update before it."""

        async def fetch() -> list[Update]:
            return list(
                await self._bot.get_updates(
                    offset=offset, timeout=long_poll, allowed_updates=Update.ALL_TYPES
                )
            )

        return await self._call(None, 0, fetch)

    async def send_text(
        self, target: ChatTarget, text: str, *, reply_to: int | None = None
    ) -> list[int]:
        """A short message (a reply to ``reply_to`` when given), paced like every send."""

        async def send() -> list[int]:
            message = await self._bot.send_message(
                target.chat_id,
                text,
                message_thread_id=target.topic_id,
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to
                else None,
            )
            return [message.message_id]

        return await self._call(target, 1, send)

    async def is_admin(self, chat_id: int | str, user_id: int) -> bool:
        """Whether the user is the chat's creator or one of its administrators."""
        target = ChatTarget(chat_id, None)
        member = await self._call(target, 0, lambda: self._bot.get_chat_member(chat_id, user_id))
        return member.status in ("creator", "administrator")

    async def react(self, target: ChatTarget, message_id: int, emoji: str | None) -> None:
        """Put ``emoji`` on a message as the bot's reaction (None takes it away)."""
        reaction = [ReactionTypeEmoji(emoji)] if emoji else []

        async def send() -> None:
            await self._bot.set_message_reaction(target.chat_id, message_id, reaction=reaction)

        await self._call(target, 1, send)

    # -- sending ---------------------------------------------------------------------------

    async def send_video(
        self,
        target: ChatTarget,
        path: Media,
        *,
        width: int,
        height: int,
        duration: float,
        thumbnail: Path | None,
        caption: str | None,
        file_ids: list[str] | None = None,
    ) -> list[int]:
        """One streamable video with its real dimensions and duration, and its thumbnail (a
        file id sends a video Telegram has already). ``file_ids`` gets the video's file id."""

        async def send() -> list[int]:
            with contextlib.ExitStack() as files:
                message = await self._bot.send_video(
                    target.chat_id,
                    self._file(path, files),
                    duration=round(duration) or None,
                    width=width or None,
                    height=height or None,
                    supports_streaming=True,
                    thumbnail=self._file(thumbnail, files) if thumbnail else None,
                    message_thread_id=target.topic_id,
                    caption=caption,
                    parse_mode=_parse_mode(caption),
                )
            if file_ids is not None and message.video is not None:
                file_ids.append(message.video.file_id)
            return [message.message_id]

        return await self._call(target, 1, send)

    async def send_document(
        self,
        target: ChatTarget,
        path: Media,
        caption: str | None,
        file_ids: list[str] | None = None,
    ) -> list[int]:
        """One file as a document: a video for someone who wants the file (``/settings format
        document``), an admin's job log."""

        async def send() -> list[int]:
            with contextlib.ExitStack() as files:
                message = await self._bot.send_document(
                    target.chat_id,
                    self._file(path, files),
                    message_thread_id=target.topic_id,
                    caption=caption,
                    parse_mode=_parse_mode(caption),
                )
            if file_ids is not None and message.document is not None:
                file_ids.append(message.document.file_id)
            return [message.message_id]

        return await self._call(target, 1, send)

    async def send_photos(
        self,
        target: ChatTarget,
        paths: Sequence[Media],
        caption: str | None,
        file_ids: list[str] | None = None,
    ) -> list[int]:
        """One photo, or an album of 2 to 10 with the caption under the first. ``file_ids``
        gets each photo's file id (its largest size)."""
        if not 1 <= len(paths) <= ALBUM_LIMIT:
            raise ValueError(f"send 1 to {ALBUM_LIMIT} photos at a time, not {len(paths)}")

        async def send() -> list[int]:
            with contextlib.ExitStack() as files:
                if len(paths) == 1:
                    message = await self._bot.send_photo(
                        target.chat_id,
                        self._file(paths[0], files),
                        message_thread_id=target.topic_id,
                        caption=caption,
                        parse_mode=_parse_mode(caption),
                    )
                    _photo_ids([message], file_ids)
                    return [message.message_id]
                captions = [caption] + [None] * (len(paths) - 1)
                media = [
                    InputMediaPhoto(
                        self._media(path, files), caption=text, parse_mode=_parse_mode(text)
                    )
                    for path, text in zip(paths, captions, strict=True)
                ]
                album = await self._bot.send_media_group(
                    target.chat_id, media, message_thread_id=target.topic_id
                )
            _photo_ids(album, file_ids)
            return [message.message_id for message in album]

        return await self._call(target, len(paths), send)

    async def send_audio(
        self,
        target: ChatTarget,
        path: Media,
        *,
        title: str | None,
        performer: str | None,
        caption: str | None,
        cover: Path | None = None,
        file_ids: list[str] | None = None,
    ) -> list[int]:
        """One audio file with its title, performer and cover (a JPEG of at most 320 px)."""

        async def send() -> list[int]:
            with contextlib.ExitStack() as files:
                message = await self._bot.send_audio(
                    target.chat_id,
                    self._file(path, files),
                    title=title,
                    performer=performer,
                    thumbnail=self._file(cover, files)
                    if cover and isinstance(path, Path)
                    else None,
                    message_thread_id=target.topic_id,
                    caption=caption,
                    parse_mode=_parse_mode(caption),
                )
            if file_ids is not None and message.audio is not None:
                file_ids.append(message.audio.file_id)
            return [message.message_id]

        return await self._call(target, 1, send)

    # -- looking ---------------------------------------------------------------------------

    async def probe_message(self, target: ChatTarget, message_id: int) -> Probe:
        """What is at this id of the chat (see docs/telegram.md): a message the bot may edit
        (its own; in a channel where it may edit messages, any post), somebody else's, or
        nothing. Asks to remove an inline keyboard the message does not have."""

        async def probe() -> Probe:
            try:
                await self._bot.edit_message_reply_markup(target.chat_id, message_id)
            except BadRequest as exc:
                text = exc.message.lower()
                if "message is not modified" in text:
                    return Probe.OURS
                if "message can't be edited" in text:
                    return Probe.OTHERS  # a bot may always edit its own
                if "message to edit not found" in text:
                    return Probe.NONE
                raise
            return Probe.OURS  # it had a keyboard, which is gone now: ours all the same

        return await self._call(target, 0, probe)

    async def whoami(self) -> str:
        """The bot's username, as getMe reports it."""
        me = await self._call(None, 0, self._bot.get_me)
        return me.username or ""

    async def check_destination(self, target: ChatTarget) -> DestinationCheck:
        """Can the bot post to ``target``? Sends no message; each problem says what to fix."""
        try:
            chat: ChatFullInfo = await self._call(
                target, 0, lambda: self._bot.get_chat(target.chat_id)
            )
        except TikrelayError as error:
            return DestinationCheck(target, None, None, None, (error.message,), ())
        member = None
        problems: list[str] = []
        if chat.type != "private":
            try:
                member = await self._call(
                    target, 0, lambda: self._bot.get_chat_member(chat.id, self._bot.id)
                )
            except TikrelayError as error:
                problems.append(error.message)
        topic_problem = await self._check_topic(target, chat)
        check = assess_destination(target, chat, member, problems)
        if topic_problem is not None:
            check = check.with_problem(topic_problem)
        return check

    async def _check_topic(self, target: ChatTarget, chat: ChatFullInfo) -> str | None:
        if target.topic_id is None or not chat.is_forum or target.topic_id == 1:
            return None  # assess_destination explains the last two cases
        try:
            # The Bot API cannot look a topic up; a chat action checks it and posts nothing.
            await self._call(
                target,
                0,
                lambda: self._bot.send_chat_action(
                    target.chat_id, ChatAction.TYPING, message_thread_id=target.topic_id
                ),
            )
        except TikrelayError as error:
            return error.message
        return None

    # -- the one way a call is made -----------------------------------------------------------

    async def _call(
        self, target: ChatTarget | None, count: int, request: Callable[[], Awaitable[T]]
    ) -> T:
        await self.open()
        return await self._request(target, count, request)

    async def _request(
        self, target: ChatTarget | None, count: int, request: Callable[[], Awaitable[T]]
    ) -> T:
        """Wait for the slot, call, retry after a 429; raise every other refusal classified."""
        refused = 0
        while True:
            if self._pacer is not None and target is not None:
                paused = self._pacer.paused_for(target.chat_id)
                if self._too_long(paused):
                    raise flood_wait_error(describe_target(target.chat_id, target.topic_id), paused)
                await self._pacer.wait(target.chat_id, count)
            try:
                return await request()
            except TelegramError as exc:
                failure = exc
            if isinstance(failure, RetryAfter):
                seconds = retry_after_seconds(failure)
                if refused < self._max_429_retries and not self._too_long(seconds):
                    refused += 1
                    await self._hold(target, seconds, refused)
                    continue
                if self._pacer is not None and target is not None:
                    self._pacer.pause(target.chat_id, seconds)  # the chat's next sends wait too
            # Raised outside the except block, so that nothing chains the original (and the
            # request URL with the token in it) to what the caller sees.
            raise self._classified(failure, target) from REDACTOR.scrubbed(failure)

    def _too_long(self, seconds: float) -> bool:
        return self._max_wait is not None and seconds > self._max_wait

    async def _hold(self, target: ChatTarget | None, seconds: float, refused: int) -> None:
        log.warning(
            "telegram_flood_wait",
            destination=str(target) if target else None,
            retry_after=seconds,
            attempt=refused,
        )
        if self._pacer is not None and target is not None:
            self._pacer.pause(target.chat_id, seconds)
        else:
            await self._sleep(seconds)

    def _classified(self, failure: TelegramError, target: ChatTarget | None) -> TikrelayError:
        chat_id, topic_id = (target.chat_id, target.topic_id) if target else (None, None)
        error = telegram_error(failure, chat_id, topic_id)
        if isinstance(error, AlbumPartiallySentError) and target is not None:
            log.warning(
                "telegram_album_cut", destination=str(target), failed_item=error.failed_item
            )
            if self._pacer is not None and error.retry_after:
                # Part of the album went out and counts against the chat: keep its reservation.
                self._pacer.pause(target.chat_id, error.retry_after, refund=False)
        return error

    def _file(self, path: Media, files: contextlib.ExitStack) -> InputFile | Path | str:
        """A streamed upload, or (local Bot API server) the path, which PTB sends as file://;
        a file id as it is."""
        if isinstance(path, str):
            return path
        if self._local_mode:
            return path
        handle: IO[bytes] = files.enter_context(path.open("rb"))
        return InputFile(handle, read_file_handle=False)

    def _media(self, path: Media, files: contextlib.ExitStack) -> InputFile | str:
        # InputMedia turns every path into a file:// URI, which only a local server accepts.
        if isinstance(path, str):
            return path  # a file id
        if self._local_mode:
            return path.absolute().as_uri()
        handle: IO[bytes] = files.enter_context(path.open("rb"))
        return InputFile(handle, read_file_handle=False, attach=True)


def _photo_ids(messages: Sequence[Message], file_ids: list[str] | None) -> None:
    if file_ids is not None:
        file_ids.extend(m.photo[-1].file_id for m in messages if m.photo)


def _parse_mode(caption: str | None) -> str | None:
    return None if caption is None else ParseMode.HTML


__all__ = [
    "AlbumPartiallySentError",
    "ChatTarget",
    "DestinationCheck",
    "TelegramSender",
]
