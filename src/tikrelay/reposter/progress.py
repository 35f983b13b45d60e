"""What a run reports while it works. The reposter tells its ``Listeners``; any number of them
listen (the command line's display is one; a web view can be another), each told in turn.
Stages also go to the job's timeline: listeners are for showing, the timeline is the record."""

from __future__ import annotations

import structlog

log = structlog.get_logger("tikrelay.progress")


class Progress:
    """A listener; every method does nothing unless a display overrides it."""

    def polled(self, source: str, listed: int, queued: int, left_out: int = 0) -> None:
        """A source was read: ``listed`` posts, ``queued`` deliveries enqueued, ``left_out``
        older posts not delivered on purpose (``backfill`` on its first poll)."""

    def stage(self, post: str, destination: str, stage: str) -> None:
        """A delivery entered a stage (METADATA_FETCH, DOWNLOAD, TELEGRAM_SEND, ...)."""

    def delivered(self, post: str, destination: str, messages: int) -> None:
        """Telegram confirmed every message of a post at a destination."""

    def filtered(self, post: str, destination: str, reason: str) -> None:
        """The source's filters keep a post from a destination, for ``reason``."""

    def failed(self, what: str, reason: str, *, retry: bool) -> None:
        """A poll or a delivery failed (``retry``: it will be tried again)."""


class Listeners(Progress):
    """Tells every added listener; one that raises is logged and does not stop the others
    (or the job)."""

    def __init__(self) -> None:
        self._listeners: list[Progress] = []

    def add(self, listener: Progress) -> None:
        self._listeners.append(listener)

    def remove(self, listener: Progress) -> None:
        self._listeners.remove(listener)

    def _tell(self, method: str, *args: object, **kwargs: object) -> None:
        for listener in list(self._listeners):
            try:
                getattr(listener, method)(*args, **kwargs)
            except Exception:
                log.exception("listener_failed", listener=type(listener).__name__, method=method)

    def polled(self, source: str, listed: int, queued: int, left_out: int = 0) -> None:
        self._tell("polled", source, listed, queued, left_out)

    def stage(self, post: str, destination: str, stage: str) -> None:
        self._tell("stage", post, destination, stage)

    def delivered(self, post: str, destination: str, messages: int) -> None:
        self._tell("delivered", post, destination, messages)

    def filtered(self, post: str, destination: str, reason: str) -> None:
        self._tell("filtered", post, destination, reason)

    def failed(self, what: str, reason: str, *, retry: bool) -> None:
        self._tell("failed", what, reason, retry=retry)
