"""``POST /api/requests``: any supported link, delivered to a destination, as seed 001's
``/scrape``. The job is the reposter's own deliver job (``runtime.actions.request_link``); the
answer is its id to follow at ``/api/jobs/{id}``. Under ``tikrelay web`` alone it waits for a
worker of ``tikrelay serve`` or ``tikrelay worker``.

The route is a plain function, so FastAPI runs it in a worker thread: following a TikTok share
link (yt-dlp, blocking, up to its socket timeout) never holds the event loop."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends

from tikrelay.runtime import actions
from tikrelay.web.auth import require_auth
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.post_models import RequestIn, RequestOut
from tikrelay.web.problems import BAD_BODY, FORBIDDEN, UNAUTHORIZED, invalid

router = APIRouter(
    tags=["requests"],
    dependencies=[Depends(require_auth)],
    responses={**UNAUTHORIZED, **FORBIDDEN},
)
Context = Annotated[WebContext, Depends(web_context)]


@router.post("/api/requests", status_code=HTTPStatus.ACCEPTED, responses=BAD_BODY)
def request_link(context: Context, asked: RequestIn) -> RequestOut:
    """Fetch the post behind ``url`` (a TikTok post link or share link, or a page or media
    file of any public site) and deliver it to ``destination`` (or the destination of
    ``chat_id``). A share link is followed to its post first, as the bot does (422 naming
    ``url`` when it leads nowhere or TikTok cannot be reached); a link to this machine or its
    network is refused (422), as the bot refuses it."""
    try:
        found = actions.request_link(context.runtime, asked.url, asked.destination, asked.chat_id)
    except actions.FieldError as exc:
        raise invalid("body", exc.field, str(exc)) from None
    return RequestOut(
        job_id=found.enqueued.job.id,
        new_job=found.enqueued.created,
        post=found.post,
        destination=found.destination,
        delivered_before=found.delivered_before,
    )
