"""The file ids Telegram gave the parts of a post as sent for one preparation profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from tikrelay.store.tables import telegram_files


@dataclass(frozen=True)
class KnownPart:
    part: int
    kind: str  # video, album, audio
    file_ids: list[str]
    width: int | None = None
    height: int | None = None
    duration: float | None = None


def known_parts(conn: Connection, post_key: str, profile: str) -> list[KnownPart]:
    """Every part, in order; empty when the post was never sent this way (or not whole)."""
    rows = conn.execute(
        select(telegram_files)
        .where(telegram_files.c.post_key == post_key, telegram_files.c.profile == profile)
        .order_by(telegram_files.c.part)
    ).all()
    return [
        KnownPart(r.part, r.kind, list(r.file_ids), r.width, r.height, r.duration) for r in rows
    ]


def remember_parts(
    conn: Connection, post_key: str, profile: str, parts: list[KnownPart], now: datetime
) -> None:
    """The parts of one whole send (replacing what was known)."""
    forget_parts(conn, post_key, profile)
    for known in parts:
        conn.execute(
            insert(telegram_files).values(
                post_key=post_key,
                profile=profile,
                part=known.part,
                kind=known.kind,
                file_ids=known.file_ids,
                width=known.width,
                height=known.height,
                duration=known.duration,
                created_at=now,
            )
        )


def forget_parts(conn: Connection, post_key: str, profile: str) -> None:
    conn.execute(
        delete(telegram_files).where(
            telegram_files.c.post_key == post_key, telegram_files.c.profile == profile
        )
    )
