"""The one place Telegram's errors are classified into the taxonomy.

python-telegram-bot raises one exception type per kind of answer (429 ``RetryAfter``, 403
``Forbidden``, 400 ``BadRequest``, 401/404 ``InvalidToken``, migration ``ChatMigrated``, transport
``TimedOut``/``NetworkError``); those types decide. Descriptions are read only where PTB has no
type: 413 (a plain ``NetworkError``), an album refused half-way, and the few 400 answers whose fix
differs (unknown chat, unknown topic, missing rights).
"""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta

from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from tikrelay.destinations.telegram_redaction import REDACTOR
from tikrelay.domain.errors import ErrorKind, TikrelayError, register_classifier

_ALBUM_FAILURE = re.compile(r"failed to send message #(\d+)", re.IGNORECASE)
_RETRY_AFTER = re.compile(r"retry after (\d+)", re.IGNORECASE)


class AlbumPartiallySentError(TikrelayError):
    """Telegram refused an album part-way: items before ``failed_item`` (1-based) may have arrived.

    Retrying the album could post those items twice; probe which ones exist first.
    """

    def __init__(self, message: str, *, failed_item: int, retry_after: float | None) -> None:
        super().__init__(ErrorKind.RATE_LIMIT, message, retry_after=retry_after, http_status=400)
        self.failed_item = failed_item


class ChatMigratedError(TikrelayError):
    """The group became a supergroup; sends must use ``new_chat_id`` from now on."""

    def __init__(self, message: str, *, new_chat_id: int) -> None:
        super().__init__(ErrorKind.UNSUPPORTED, message, retryable=False, http_status=400)
        self.new_chat_id = new_chat_id


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, whether PTB hands it out as seconds or as a timedelta."""
    with warnings.catch_warnings():
        # Reading it as an int is deprecated unless PTB_TIMEDELTA is set; either form will do.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def flood_wait_error(where: str, seconds: float) -> TikrelayError:
    """A 429's wait, as an error whose ``retry_after`` the job engine schedules; the message says
    when the chat may be used again."""
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    return TikrelayError(
        ErrorKind.RATE_LIMIT,
        f"Telegram flood control for {where}: retry after {seconds:g} s (the chat may be used "
        f"again at {until:%Y-%m-%d %H:%M:%S} UTC)",
        retry_after=seconds,
        http_status=429,
    )


def describe_target(chat_id: int | str | None, topic_id: int | None = None) -> str:
    if chat_id is None:
        return "the chat"
    return f"chat {chat_id}" if topic_id is None else f"topic {topic_id} of chat {chat_id}"


def telegram_error(
    exc: TelegramError, chat_id: int | str | None = None, topic_id: int | None = None
) -> TikrelayError:
    """Classify a PTB exception; ``chat_id``/``topic_id`` name the destination in the message."""
    said = REDACTOR.scrub(exc.message)
    where = describe_target(chat_id, topic_id)
    if isinstance(exc, RetryAfter):
        return flood_wait_error(where, retry_after_seconds(exc))
    if isinstance(exc, ChatMigrated):
        return ChatMigratedError(
            f"the group {where} became a supergroup with chat id {exc.new_chat_id}: "
            f"put chat_id: {exc.new_chat_id} in the configuration",
            new_chat_id=exc.new_chat_id,
        )
    if isinstance(exc, InvalidToken):
        return TikrelayError(
            ErrorKind.AUTH,
            f"Telegram does not accept the bot token ({said}): set TELEGRAM_BOT_TOKEN to the "
            "token @BotFather gave you",
            retryable=False,
            http_status=401,
        )
    if isinstance(exc, Forbidden):
        return TikrelayError(
            ErrorKind.AUTH,
            f"Telegram refused to let the bot post in {where} ({said}): add the bot to the chat "
            "and allow it to post (in a channel: an administrator with 'Post messages')",
            retryable=False,
            http_status=403,
        )
    if isinstance(exc, BadRequest):
        return _bad_request(said, where, chat_id, topic_id)
    if isinstance(exc, TimedOut):
        return TikrelayError(
            ErrorKind.NETWORK,
            f"Telegram did not answer in time ({said}); the message may still have arrived",
            retryable=True,
        )
    if isinstance(exc, NetworkError):
        if "request entity too large" in said.lower():
            return TikrelayError(
                ErrorKind.SIZE_LIMIT,
                "the file is larger than Telegram accepts (50 MB through the cloud Bot API, "
                "2000 MB through a local Bot API server)",
                retryable=False,
                http_status=413,
            )
        return TikrelayError(ErrorKind.NETWORK, f"cannot reach Telegram: {said}", retryable=True)
    if isinstance(exc, EndPointNotFound):
        return TikrelayError(ErrorKind.UNSUPPORTED, f"the Bot API has no such method: {said}")
    return TikrelayError(ErrorKind.HTTP, f"unexpected answer from Telegram: {said}")


def _bad_request(
    said: str, where: str, chat_id: int | str | None, topic_id: int | None
) -> TikrelayError:
    lowered = said.lower()
    album = _ALBUM_FAILURE.search(said)
    if album is not None:
        retry = _RETRY_AFTER.search(said)
        return AlbumPartiallySentError(
            f"Telegram refused item {album.group(1)} of an album to {where} after delivering "
            f"the ones before it ({said})",
            failed_item=int(album.group(1)),
            retry_after=float(retry.group(1)) if retry else None,
        )
    if "chat not found" in lowered:
        chat = "the chat" if chat_id is None else f"chat {chat_id}"
        return _refused(
            f"Telegram does not know {chat}: check chat_id, and that the bot was added to the chat"
        )
    if "message thread not found" in lowered:
        topic = "the topic" if topic_id is None else f"topic {topic_id}"
        chat = "the chat" if chat_id is None else f"chat {chat_id}"
        return _refused(
            f"{topic} does not exist in {chat} (or the chat is not a forum): check topic_id; "
            "to post in the General topic, leave topic_id out"
        )
    if "rights" in lowered:  # "need administrator rights", "not enough rights to send ..."
        return TikrelayError(
            ErrorKind.AUTH,
            f"the bot may not post this in {where} ({said}): give it the right to post there",
            retryable=False,
            http_status=400,
        )
    return _refused(f"Telegram refused the request to {where}: {said}")


def _refused(message: str) -> TikrelayError:
    return TikrelayError(ErrorKind.UNSUPPORTED, message, retryable=False, http_status=400)


@register_classifier
def classify_telegram(exc: BaseException) -> TikrelayError | None:
    """python-telegram-bot's exceptions by type (the destination is not known here)."""
    if isinstance(exc, TelegramError):
        return telegram_error(exc)
    return None
