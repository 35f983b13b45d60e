"""The posts page: the posts tikrelay read, the most recently seen first, each with its picture
(``web.thumbnails``: from the media cache, or from an archive the post was archived to; a
placeholder when neither has it) and where it stands at each destination: delivered (when),
or the newest job taking it there (waiting, running, failed and why). Filters and paging are
the API's (``GET /api/posts``)."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from tikrelay.domain.posts import PostKind
from tikrelay.runtime import actions
from tikrelay.store.web_sql import (
    POST_STATUSES,
    DeliveryJob,
    DeliveryRecord,
    PostFilter,
    PostRecord,
    post_page,
)
from tikrelay.web.posts import post_cursor, read_post_cursor
from tikrelay.web.thumbnails import picture_urls
from tikrelay.web.views import Context, PageViewer, render

router = APIRouter(include_in_schema=False)
PER_PAGE = 24


@dataclass(frozen=True)
class Arrival:
    """A post at one destination: its delivery, or the newest job taking it there."""

    destination: str
    delivery: DeliveryRecord | None
    job: DeliveryJob | None

    @property
    def state(self) -> str:
        if self.delivery is not None:
            return "delivered"
        return self.job.status.lower() if self.job is not None else "unknown"


@dataclass(frozen=True)
class PostView:
    post: PostRecord
    thumbnail: str | None  # the picture's URL, or None: the placeholder
    arrivals: list[Arrival]


def _arrivals(post: PostRecord, jobs: dict[str, DeliveryJob]) -> list[Arrival]:
    delivered = {d.destination: d for d in post.deliveries}
    names = sorted(set(delivered) | set(jobs))
    return [Arrival(name, delivered.get(name), jobs.get(name)) for name in names]


@router.get("/posts")
def posts_page(
    request: Request,
    context: Context,
    viewer: PageViewer,
    creator: Annotated[str, Query(max_length=100)] = "",
    kind: Annotated[str, Query(max_length=20)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    cursor: Annotated[str | None, Query(max_length=1200)] = None,
) -> Response:
    """The filters come from a form whose empty fields mean "any"."""
    runtime = context.runtime
    kinds = [k.value for k in PostKind]
    problem = None
    if kind and kind not in kinds:
        problem, kind = f"kind: {kind!r} is not one of {', '.join(kinds)}", ""
    if status and status not in POST_STATUSES:
        problem, status = f"status: {status!r} is not one of {', '.join(POST_STATUSES)}", ""
    wanted = PostFilter(creator=creator.strip() or None, kind=kind or None, status=status or None)
    after = None
    if cursor:
        try:
            after = read_post_cursor(cursor)
        except HTTPException:
            problem = "cursor: not a position of this list; the newest posts are shown"
    page = post_page(runtime.queue.engine, wanted, limit=PER_PAGE, after=after)
    jobs = actions.post_delivery_jobs(runtime, [post.key for post in page.posts])
    pictures = picture_urls(runtime, page.posts)
    shown = [
        PostView(post, pictures[post.key], _arrivals(post, jobs.get(post.key, {})))
        for post in page.posts
    ]
    filters = {"creator": creator, "kind": kind, "status": status}
    following = None
    if page.after is not None:
        kept = {k: v for k, v in filters.items() if v}
        following = "/posts?" + urlencode({**kept, "cursor": post_cursor(page.after)})
    values = {
        "posts": shown,
        "filters": filters,
        "kinds": kinds,
        "following": following,
        "first_page": cursor is None,
        "problem": problem,
    }
    code = HTTPStatus.UNPROCESSABLE_ENTITY if problem else HTTPStatus.OK
    return render(request, "posts.html", values, viewer, status=code)
