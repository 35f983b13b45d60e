"""Keeping bot tokens out of log lines and exceptions.

The Bot API puts the token in every URL (``/bot<token>/sendVideo``): python-telegram-bot logs its
base URL when a bot is built, httpx logs every request URL, and transport errors keep the request
(URL included) in their ``__cause__``. Tokens are registered here before any bot exists; a filter
on those libraries' loggers rewrites their records, and ``scrubbed`` copies an exception without
the token and without the chain that holds the URL.
"""

from __future__ import annotations

import logging
import threading

from telegram.error import TelegramError

REDACTED = "[redacted]"
# The loggers that format request URLs or the base URL; filters on a logger apply only to records
# created by that very logger, so each one is named.
_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "telegram",
    "telegram.Bot",
    "telegram.ext.ExtBot",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
)


class TokenRedactor(logging.Filter):
    """Replaces every registered token in text, log records and Telegram exceptions."""

    def __init__(self) -> None:
        super().__init__()
        self._tokens: set[str] = set()
        self._lock = threading.Lock()

    def add(self, token: str) -> None:
        if token:
            with self._lock:
                self._tokens.add(token)

    def scrub(self, text: str) -> str:
        with self._lock:
            tokens = sorted(self._tokens, key=len, reverse=True)
        for token in tokens:
            text = text.replace(token, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True

    def scrubbed(self, exc: TelegramError) -> TelegramError:
        """A copy of ``exc`` of the same type, its message scrubbed, with no cause or traceback."""
        cls, args = exc.__reduce__()[:2]
        try:
            clean: TelegramError = cls(*args)
        except TypeError:  # a subclass with another constructor: keep the base type
            clean = TelegramError(exc.message)
        clean.message = self.scrub(exc.message)
        return clean

    def install(self) -> None:
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            if self not in logger.filters:
                logger.addFilter(self)


REDACTOR = TokenRedactor()
REDACTOR.install()
