"""AI captions kept per post and prompt (``ai_captions``): written as soon as the model answers,
read before it is asked, so that a post's caption is asked for once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from tikrelay.store import upserts
from tikrelay.store.tables import ai_captions

# Two destinations asking at once: the first answer stored stands.
_STORES = upserts.per_dialect(ai_captions, [ai_captions.c.post_key, ai_captions.c.prompt_key])
_TEXT = select(ai_captions.c.text).where(
    ai_captions.c.post_key == bindparam("post_key"),
    ai_captions.c.prompt_key == bindparam("prompt_key"),
)


def cached_caption(conn: Connection, post_key: str, prompt_key: str) -> str | None:
    """The text the model wrote for this post and prompt, or None when never asked."""
    found: str | None = conn.execute(
        _TEXT, {"post_key": post_key, "prompt_key": prompt_key}
    ).scalar_one_or_none()
    return found


def remember_caption(
    conn: Connection, post_key: str, prompt_key: str, text: str, model: str, now: datetime
) -> None:
    conn.execute(
        _STORES[conn.dialect.name],
        {
            "post_key": post_key,
            "prompt_key": prompt_key,
            "text": text,
            "model": model,
            "created_at": now,
        },
    )
