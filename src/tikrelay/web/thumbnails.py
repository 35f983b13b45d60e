"""``GET /thumbnails/{site}/{id}``: a post's picture, from the media cache, behind the token or
the session.

The media cache keeps each post's files in ``state_dir/media/{site}/{id}/``
(``StatePaths.post_media``) until ``delivery.keep_media_hours`` after its last job: the
downloads in ``source/``, what was sent in ``telegram/`` (a video's ``*.thumb.jpg``, a
slideshow's JPEG slides, a sound's ``cover.jpg``). The first of those that exists is the
post's thumbnail; a post whose files are gone (or were never fetched by this machine, or live
in another machine's cache) has none, and the posts page shows a placeholder. Only image files
inside the post's own folder are served: the site must be a plain name, the id is cleaned by
``StatePaths``, and a link out of the folder is refused.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.responses import FileResponse

from tikrelay.config.paths import StatePaths
from tikrelay.web.auth import require_auth
from tikrelay.web.context import WebContext, web_context

#: Where a post's picture is looked for, in order, inside its folder.
CANDIDATES = (
    "telegram/*.thumb.jpg",
    "telegram/cover.jpg",
    "telegram/*.jpg",
    "source/*.jpg",
    "source/*.jpeg",
    "source/*.png",
    "source/*.webp",
)
MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}

router = APIRouter(dependencies=[Depends(require_auth)], include_in_schema=False)
Context = Annotated[WebContext, Depends(web_context)]


def thumbnail_file(paths: StatePaths, site: str, post_id: str) -> FilePath | None:
    """The post's picture in the media cache, or None."""
    if not site.isascii() or not site.replace("-", "").replace("_", "").isalnum():
        return None
    folder = paths.post_media(site, post_id)
    if not folder.is_dir():
        return None
    root = folder.resolve()
    for pattern in CANDIDATES:
        for found in sorted(folder.glob(pattern)):
            real = found.resolve()
            if real.is_file() and real.is_relative_to(root) and real.suffix.lower() in MEDIA_TYPES:
                return real
    return None


def thumbnail_url(site: str, post_id: str) -> str:
    return f"/thumbnails/{site}/{post_id}"


@router.get("/thumbnails/{site}/{post_id}")
def thumbnail(
    context: Context,
    site: Annotated[str, Path(min_length=1, max_length=40)],
    post_id: Annotated[str, Path(min_length=1, max_length=200)],
) -> FileResponse:
    found = thumbnail_file(StatePaths(context.runtime.settings.state_dir), site, post_id)
    if found is None:
        raise HTTPException(404, detail=f"no picture of {site}:{post_id} in the media cache")
    return FileResponse(
        found,
        media_type=MEDIA_TYPES[found.suffix.lower()],
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
