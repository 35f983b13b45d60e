"""The recent log lines of this process, for the dashboard's logs page.

tikrelay writes its logs to stderr (``config.logging``) and keeps no log store: a service
manager or a file keeps them. So that the dashboard can still show what just happened, the web
app adds one structlog processor to the process's chain, just before the renderer: it copies
each event (after the secrets were redacted, and redacted once more here in case logging was
never configured) into a bounded ring buffer, the newest ``LOG_LINES`` lines. The ring lives in
the memory of the web process: under ``tikrelay serve`` that is the whole program's lines
(workers, bot and web in one process); under ``tikrelay web`` alone, only the web's own. Lines
from before the process started, or past the ring's size, are in the logs on stderr only.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import structlog

from tikrelay.config.logging import redact_secrets

#: Lines kept at most: about a megabyte of memory with long lines.
LOG_LINES = 2000
#: A value longer than this is cut in the ring (the stderr line keeps it whole).
MAX_VALUE = 500
#: Keys every line has, shown in their own columns rather than among the details.
OWN_COLUMNS = ("timestamp", "level", "event", "job_id")
Level = Literal["debug", "info", "warning", "error", "critical"]
LEVELS: tuple[Level, ...] = get_args(Level)
#: Lines one read returns at most, and by default.
MAX_READ = 500
DEFAULT_READ = 200


@dataclass(frozen=True)
class LogLine:
    number: int  # counts every line this process logged, from 1
    at: str  # ISO 8601, as the timestamper wrote it ("" without one)
    level: str
    event: str
    job_id: int | None
    details: dict[str, str]


def _text(value: Any) -> str:
    shown = value if isinstance(value, str) else repr(value)
    return shown if len(shown) <= MAX_VALUE else shown[: MAX_VALUE - 1] + "…"


def _job_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class LogBook:
    """A structlog processor that keeps the newest ``size`` lines; thread-safe (jobs log from
    threads)."""

    def __init__(self, size: int = LOG_LINES) -> None:
        self._lines: deque[LogLine] = deque(maxlen=size)
        self._count = 0
        self._lock = threading.Lock()

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        found = dict(redact_secrets(logger, method, dict(event_dict)))
        level = str(found.get("level") or method).lower()
        details = {str(k): _text(v) for k, v in found.items() if k not in OWN_COLUMNS}
        with self._lock:
            self._count += 1
            self._lines.append(
                LogLine(
                    number=self._count,
                    at=str(found.get("timestamp") or ""),
                    level="warning" if level == "warn" else level,
                    event=_text(found.get("event", "")),
                    job_id=_job_id(found.get("job_id")),
                    details=details,
                )
            )
        return event_dict

    def lines(
        self, *, job_id: int | None = None, level: str | None = None, limit: int = DEFAULT_READ
    ) -> list[LogLine]:
        """The newest lines first, of one job and at ``level`` or above when asked."""
        least = LEVELS.index(level) if level in LEVELS else 0
        with self._lock:
            kept = list(self._lines)
        found = [
            line
            for line in reversed(kept)
            if (job_id is None or line.job_id == job_id)
            and (LEVELS.index(line.level) if line.level in LEVELS else len(LEVELS)) >= least
        ]
        return found[:limit]


#: The process's one ring: logs are the process's, whichever app reads them.
BOOK = LogBook()


def install(book: LogBook = BOOK) -> None:
    """Put ``book`` into structlog's chain just before the renderer (the last processor), once
    (an app made again finds it there). The command line configures logging before it makes
    the app; logging configured again afterwards would leave the ring out until then."""
    processors = list(structlog.get_config()["processors"])
    if any(processor is book for processor in processors):
        return
    position = max(len(processors) - 1, 0)
    processors.insert(position, book)
    structlog.configure(processors=processors)
