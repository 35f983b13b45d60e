"""``/api/posts``, ``/api/deliveries`` and ``/api/stats``: what the reposter read, delivered and
failed, from the database (``store.web_sql``), paged by cursor; a post's picture is a link to
``/thumbnails/{site}/{id}`` (``web.thumbnails``), never read while the list is made."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from tikrelay.domain.posts import PostKind
from tikrelay.store.web_sql import PostCursor, PostFilter, delivery_page, post_page, stats
from tikrelay.web.auth import require_auth
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.post_models import DeliveryOut, DeliveryPageOut, PostOut, PostPageOut, StatsOut
from tikrelay.web.problems import UNAUTHORIZED, invalid
from tikrelay.web.thumbnails import picture_urls

MAX_PAGE = 500
MAX_DAYS = 366

router = APIRouter(tags=["posts"], dependencies=[Depends(require_auth)], responses=UNAUTHORIZED)
Context = Annotated[WebContext, Depends(web_context)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Rows per page.")]
Since = Annotated[
    datetime | None,
    Query(description="At or after this moment (ISO 8601; without a zone: UTC)."),
]
Until = Annotated[datetime | None, Query(description="Before this moment (ISO 8601).")]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def post_cursor(cursor: PostCursor) -> str:
    raw = json.dumps([cursor.seen.isoformat(), cursor.key]).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def read_post_cursor(text: str) -> PostCursor:
    """A cursor made by ``post_cursor``; anything else is a 422 naming ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        seen, key = json.loads(raw)
        moment = _utc(datetime.fromisoformat(seen))
        if not isinstance(key, str) or moment is None:
            raise ValueError(key)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        del exc
        raise invalid(
            "query", "cursor", "not a cursor of this list: pass next_cursor back"
        ) from None
    return PostCursor(moment, key)


@router.get("/api/posts")
def list_posts(
    context: Context,
    source: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=300,
            description="Posts listed by this source's polls (tiktok:@name).",
        ),
    ] = None,
    creator: Annotated[
        str | None, Query(min_length=1, max_length=100, description="The author's @name.")
    ] = None,
    kind: Annotated[PostKind | None, Query(description="Only posts of this kind.")] = None,
    status: Annotated[
        Literal["delivered", "undelivered"] | None,
        Query(description="delivered: to some destination; undelivered: to none yet."),
    ] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    cursor: Annotated[
        str | None,
        Query(
            max_length=1200, description="next_cursor of the previous page; omit for the newest."
        ),
    ] = None,
) -> PostPageOut:
    """Posts whose page tikrelay read, the most recently seen first, each with its deliveries
    and where its picture is. ``since`` and ``until`` compare the post's own time (its first
    sight, when it has none)."""
    after = read_post_cursor(cursor) if cursor is not None else None
    wanted = PostFilter(
        source=source,
        creator=creator,
        kind=kind.value if kind is not None else None,
        status=status,
        since=_utc(since),
        until=_utc(until),
    )
    runtime = context.runtime
    page = post_page(runtime.queue.engine, wanted, limit=limit, after=after)
    following = post_cursor(page.after) if page.after is not None else None
    pictures = picture_urls(runtime, page.posts)
    return PostPageOut(
        posts=[PostOut.of(p, pictures[p.key]) for p in page.posts], next_cursor=following
    )


@router.get("/api/deliveries")
def list_deliveries(
    context: Context,
    destination: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Only to this destination.")
    ] = None,
    post: Annotated[
        str | None, Query(min_length=1, max_length=300, description="Only of this post (site:id).")
    ] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    cursor: Annotated[
        str | None,
        Query(
            pattern=r"^[1-9][0-9]{0,17}$",
            description="next_cursor of the previous page; omit for the newest.",
        ),
    ] = None,
) -> DeliveryPageOut:
    """Deliveries, newest first."""
    page = delivery_page(
        context.runtime.queue.engine,
        destination=destination,
        post=post,
        since=_utc(since),
        until=_utc(until),
        limit=limit,
        before=int(cursor) if cursor is not None else None,
    )
    after = str(page.after) if page.after is not None else None
    return DeliveryPageOut(
        deliveries=[DeliveryOut.of(d) for d in page.deliveries], next_cursor=after
    )


@router.get("/api/stats")
def show_stats(
    context: Context,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="UTC days, up to today.")] = 30,
) -> StatsOut:
    """Deliveries and failures per day, figures per source and per destination, failures by
    error kind."""
    runtime = context.runtime
    today = runtime.queue.clock().astimezone(UTC).date()
    return StatsOut.of(stats(runtime.queue.engine, today, days))
