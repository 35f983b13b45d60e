"""``GET /thumbnails/{site}/{id}``: a post's picture (``runtime.pictures``: from the media
cache, or from an archive destination once the cache no longer has the post's files), behind the
token or the session; and the URL the lists give a post that has one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import FileResponse

from tikrelay.config.logging import redact_text
from tikrelay.config.paths import StatePaths
from tikrelay.runtime.app import Runtime
from tikrelay.runtime.pictures import (
    DOWN_SECONDS,
    MEDIA_TYPES,
    ArchiveFetches,
    has_pictures,
    plain_site,
    thumbnail_file,
)
from tikrelay.store.web_sql import PostRecord
from tikrelay.web.auth import require_auth
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.views import path_part

router = APIRouter(dependencies=[Depends(require_auth)], include_in_schema=False)
Context = Annotated[WebContext, Depends(web_context)]


def thumbnail_url(site: str, post_id: str) -> str:
    return f"/thumbnails/{path_part(site)}/{path_part(post_id)}"


def picture_urls(runtime: Runtime, posts: Sequence[PostRecord]) -> dict[str, str | None]:
    """By post key, the URL of its picture, or None (``runtime.pictures.has_pictures``)."""
    found = has_pictures(runtime, posts)
    return {
        post.key: thumbnail_url(post.site, post.native_id) if found[post.key] else None
        for post in posts
    }


async def archive_fetches(request: Request) -> ArchiveFetches:
    """The app's fetches, made at the first picture an archive is asked for."""
    state = request.app.state
    found: ArchiveFetches | None = getattr(state, "archive_fetches", None)
    if found is None:
        found = state.archive_fetches = ArchiveFetches()
    return found


@router.get("/thumbnails/{site}/{post_id}")
async def thumbnail(
    context: Context,
    fetches: Annotated[ArchiveFetches, Depends(archive_fetches)],
    site: Annotated[str, Path(min_length=1, max_length=40)],
    post_id: Annotated[str, Path(min_length=1, max_length=200)],
) -> FileResponse:
    runtime = context.runtime
    paths = StatePaths(runtime.settings.state_dir)
    found = await asyncio.to_thread(thumbnail_file, paths, site, post_id)
    if found is None and plain_site(site):
        fetched = await fetches.picture(runtime, paths, site, post_id)
        found = fetched.picture
        if found is None and (fetched.failed or fetched.skipped):
            # The store's own words may hold its address with credentials or a signed query.
            why = [f"{name}: {redact_text(message)}" for name, message in fetched.failed.items()]
            why += [f"{name}: failed less than {DOWN_SECONDS:g} s ago" for name in fetched.skipped]
            raise HTTPException(502, detail=f"the archive could not be read ({'; '.join(why)})")
        if fetched.busy:
            raise HTTPException(
                503,
                detail=f"a job works on the media of {site}:{post_id} now: ask again shortly",
                headers={"Retry-After": "5"},
            )
    if found is None:
        raise HTTPException(
            404, detail=f"no picture of {site}:{post_id} in the media cache or an archive"
        )
    return FileResponse(
        found,
        media_type=MEDIA_TYPES[found.suffix.lower()],
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
