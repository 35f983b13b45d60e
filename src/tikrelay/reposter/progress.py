"""What a run reports while it works. The command line shows it (a live display in a terminal,
plain lines otherwise); the reposter only calls these methods."""

from __future__ import annotations


class Progress:
    """Does nothing; the command line's displays override what they show."""

    def polled(self, source: str, listed: int, queued: int, left_out: int = 0) -> None:
        """A source was read: ``listed`` posts, ``queued`` deliveries enqueued, ``left_out``
        older posts not delivered on purpose (``backfill`` on its first poll)."""

    def stage(self, post: str, destination: str, stage: str) -> None:
        """A delivery entered a stage (METADATA_FETCH, DOWNLOAD, TELEGRAM_SEND, ...)."""

    def delivered(self, post: str, destination: str, messages: int) -> None:
        """Telegram confirmed every message of a post at a destination."""

    def failed(self, what: str, reason: str, *, retry: bool) -> None:
        """A poll or a delivery failed (``retry``: it will be tried again)."""
