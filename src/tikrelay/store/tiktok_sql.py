"""The SQL of TikTok publishing: authorized accounts (their tokens sealed by the caller, never in
clear here) and uploads under way, one row per (post, destination).

An upload row moves ``uploading`` → ``uploaded`` → ``done``, or to ``failed``; every write names
the ``publish_id`` it expects in the same UPDATE, so a write about an upload that a newer
initialization replaced changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from tikrelay.store.tables import tiktok_accounts, tiktok_uploads

UPLOADING = "uploading"  # initialized; chunks [0, next_chunk) accepted
UPLOADED = "uploaded"  # every chunk accepted; TikTok processes it
DONE = "done"  # in the account's inbox, or posted
FAILED = "failed"  # TikTok said FAILED: a retry initializes anew
UPLOAD_STATUSES = (UPLOADING, UPLOADED, DONE, FAILED)


@dataclass(frozen=True)
class AccountRow:
    name: str
    open_id: str
    scope: str
    sealed: str  # the tokens, encrypted
    access_expires_at: datetime
    refresh_expires_at: datetime


@dataclass(frozen=True)
class UploadRow:
    post_key: str
    destination: str
    publish_id: str
    upload_url: str | None
    next_chunk: int
    video_size: int
    chunk_size: int
    status: str
    created_at: datetime


def account(conn: Connection, name: str) -> AccountRow | None:
    c = tiktok_accounts.c
    row = conn.execute(
        select(
            c.name, c.open_id, c.scope, c.tokens, c.access_expires_at, c.refresh_expires_at
        ).where(c.name == name)
    ).first()
    if row is None:
        return None
    return AccountRow(
        row.name, row.open_id, row.scope, row.tokens, row.access_expires_at, row.refresh_expires_at
    )


def account_names(conn: Connection) -> list[str]:
    return list(
        conn.execute(select(tiktok_accounts.c.name).order_by(tiktok_accounts.c.name)).scalars()
    )


def save_account(conn: Connection, found: AccountRow, now: datetime) -> None:
    """Insert or replace the account ``found.name``."""
    values = {
        "open_id": found.open_id,
        "scope": found.scope,
        "tokens": found.sealed,
        "access_expires_at": found.access_expires_at,
        "refresh_expires_at": found.refresh_expires_at,
        "updated_at": now,
    }
    changed = conn.execute(
        update(tiktok_accounts).where(tiktok_accounts.c.name == found.name).values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(tiktok_accounts).values(name=found.name, **values))


def upload(conn: Connection, post_key: str, destination: str) -> UploadRow | None:
    c = tiktok_uploads.c
    row = conn.execute(
        select(tiktok_uploads).where(c.post_key == post_key, c.destination == destination)
    ).first()
    if row is None:
        return None
    return UploadRow(
        row.post_key,
        row.destination,
        row.publish_id,
        row.upload_url,
        row.next_chunk,
        row.video_size,
        row.chunk_size,
        row.status,
        row.created_at,
    )


def start_upload(
    conn: Connection,
    *,
    post_key: str,
    destination: str,
    publish_id: str,
    upload_url: str,
    video_size: int,
    chunk_size: int,
    now: datetime,
) -> None:
    """A new initialization of the post's upload, replacing any earlier (failed or expired)."""
    c = tiktok_uploads.c
    conn.execute(delete(tiktok_uploads).where(c.post_key == post_key, c.destination == destination))
    conn.execute(
        insert(tiktok_uploads).values(
            post_key=post_key,
            destination=destination,
            publish_id=publish_id,
            upload_url=upload_url,
            next_chunk=0,
            video_size=video_size,
            chunk_size=chunk_size,
            status=UPLOADING,
            created_at=now,
            updated_at=now,
        )
    )


def advance(
    conn: Connection,
    post_key: str,
    destination: str,
    publish_id: str,
    *,
    now: datetime,
    next_chunk: int | None = None,
    status: str | None = None,
) -> bool:
    """Record chunks accepted (``next_chunk``) or a new ``status`` of the upload ``publish_id``;
    False when the row holds another upload now (nothing written)."""
    if status is not None and status not in UPLOAD_STATUSES:
        raise ValueError(f"unknown upload status {status!r}")
    c = tiktok_uploads.c
    values: dict[str, object] = {"updated_at": now}
    if next_chunk is not None:
        values["next_chunk"] = next_chunk
    if status is not None:
        values["status"] = status
        if status in (DONE, FAILED):
            values["upload_url"] = None  # nothing more is sent there
    changed = conn.execute(
        update(tiktok_uploads)
        .where(c.post_key == post_key, c.destination == destination, c.publish_id == publish_id)
        .values(**values)
    ).rowcount
    return bool(changed)
