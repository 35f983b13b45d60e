"""Posts, what sources listed and deliveries, written as the reposter's jobs write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tikrelay.runtime.app import Runtime
from tikrelay.store import relay

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def add_post(
    runtime: Runtime,
    native_id: str,
    *,
    author: str,
    kind: str = "video",
    source: str | None = None,
    posted: datetime | None = None,
    seen: datetime = T0,
    delivered_to: tuple[str, ...] = (),
    delivered_at: datetime | None = None,
) -> str:
    """A post tikrelay read (listed by ``source``), delivered to ``delivered_to``; its key."""
    key = f"tiktok:{native_id}"
    with runtime.queue.transaction() as conn:
        if source is not None:
            row = relay.ensure_source(conn, source, "tiktok", source.split("@", 1)[1], seen)
            relay.record_listing(conn, row.id, [key], seen)
        relay.save_post(
            conn,
            {
                "key": key,
                "site": "tiktok",
                "native_id": native_id,
                "kind": kind,
                "url": f"https://www.tiktok.com/@{author}/video/{native_id}",
                "author": author,
                "created_at": posted,
                "data": {"text": f"post {native_id}"},
                "first_seen_at": seen,
            },
        )
        for n, destination in enumerate(delivered_to):
            relay.record_delivery(
                conn,
                post_key=key,
                destination=destination,
                chat_id=f"-100{n}",
                topic_id=None,
                message_ids=[int(native_id) % 1000 + n],
                job_id=None,
                reconciled=False,
                now=(delivered_at or seen) + timedelta(minutes=n),
            )
    return key
