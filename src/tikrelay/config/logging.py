"""structlog set-up: readable lines in a terminal, JSON otherwise, secrets always redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = re.compile(r"(token|secret|password|cookie|authorization|api_key)", re.IGNORECASE)
# Bot tokens look like 123456789:AAE...; they also hide inside URLs such as /bot<token>/sendVideo.
_BOT_TOKEN = re.compile(r"(?<![0-9])\d{5,}:[A-Za-z0-9_-]{20,}")
_URL_CREDENTIALS = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")
REDACTED = "[redacted]"


def redact_text(text: str) -> str:
    """Remove bot tokens and URL passwords from free text."""
    text = _BOT_TOKEN.sub(REDACTED, text)
    return _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)


def _redact_value(key: str, value: Any) -> Any:
    if _SECRET_KEYS.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(key, v) for v in value)
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: blank secret-looking keys and scrub tokens from every string."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


def configure_logging(*, json: bool | None = None, level: int = logging.INFO) -> None:
    """Configure structlog once per process; ``json`` defaults to "stderr is not a terminal"."""
    if json is None:
        json = not sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
