"""``/api/sources`` and ``/api/destinations``: the catalog, as ``tikrelay sources …`` and
``tikrelay destinations …`` show and change it. Changes go through ``runtime.actions`` and
``runtime.destination_actions``: a source added here is polled at once, and the reposter of this
process (under ``tikrelay serve``) routes and schedules what the catalog holds then. Entries
from the config file are read-only here (409, naming the file)."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path

from tikrelay.runtime import actions, destination_actions
from tikrelay.web.auth import require_auth
from tikrelay.web.catalog_models import (
    DestinationIn,
    DestinationList,
    DestinationOut,
    DestinationPatch,
    DestinationRemoved,
    PolledOut,
    SourceAdded,
    SourceIn,
    SourceList,
    SourceOut,
    SourcePatch,
    SourceRemoved,
)
from tikrelay.web.context import WebContext, web_context
from tikrelay.web.problems import (
    BAD_BODY,
    FORBIDDEN,
    UNAUTHORIZED,
    conflict,
    invalid,
    not_found,
    problem,
)

T = TypeVar("T")

router = APIRouter(
    tags=["catalog"],
    dependencies=[Depends(require_auth)],
    responses={**UNAUTHORIZED, **FORBIDDEN},
)
Context = Annotated[WebContext, Depends(web_context)]
SourceId = Annotated[
    str,
    Path(
        alias="id",
        min_length=1,
        max_length=300,
        description="The source: its key (tiktok:@name or url:ADDRESS), @name, the profile "
        "URL, or a url: source's address (its slashes escaped as %2F, or not).",
    ),
]
#: ``{id:path}``: a ``url:`` source's key holds slashes, which arrive unescaped.
ONE_SOURCE = "/api/sources/{id:path}"
DestinationName = Annotated[
    str, Path(min_length=1, max_length=200, description="The destination's name.")
]
NOT_FOUND = problem(404, "No such source.")
REFUSED = problem(409, "From the config file (change it there), or refused as it stands.")


def _answer(action: Callable[[], T]) -> T:
    """Run an action; its refusals as the API's answers."""
    try:
        return action()
    except actions.FieldError as exc:
        if exc.field == "id":
            raise invalid("path", exc.field, str(exc)) from None
        raise _invalid_body(exc) from None
    except actions.NotFoundError as exc:
        raise not_found(str(exc)) from None
    except actions.RefusedError as exc:
        raise conflict(str(exc)) from None


def _invalid_body(exc: actions.FieldError) -> HTTPException:
    """422 naming the field by its place in the body: ``["body", "filters", "min_views"]``."""
    parts = exc.field.split(".") if exc.field != "body" else []
    where: list[str | int] = ["body", *(int(p) if p.isdigit() else p for p in parts)]
    detail = [{"loc": where, "msg": str(exc), "type": "value_error"}]
    return HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=detail)


@router.get("/api/sources")
def list_sources(context: Context) -> SourceList:
    """Every source, paused ones too, with where it came from and what its polls did."""
    views = _answer(lambda: actions.list_sources(context.runtime))
    return SourceList(sources=[SourceOut.of(view) for view in views])


@router.post(
    "/api/sources",
    status_code=HTTPStatus.CREATED,
    responses={**BAD_BODY, **problem(409, "The source exists already.")},
)
def add_source(context: Context, source: SourceIn) -> SourceAdded:
    """Watch a TikTok creator (``tiktok``), or a channel or playlist (``url``), and send its
    posts that pass its ``filters`` to the destinations of ``to``; its first poll is due at
    once."""
    options = source.model_dump(exclude_none=True, exclude={"tiktok", "to"})
    runtime = context.runtime
    view, made = _answer(lambda: actions.add_source(runtime, source.tiktok, source.to, options))
    return SourceAdded(
        source=SourceOut.of(view),
        poll=PolledOut(job_id=made.job.id, new_job=made.created),
    )


@router.patch(ONE_SOURCE, responses={**BAD_BODY, **NOT_FOUND, **REFUSED})
def edit_source(context: Context, source_id: SourceId, changes: SourcePatch) -> SourceOut:
    """Change where its posts go, how much each poll reads, how often it is polled, its
    filters (``filters`` replaces them whole; ``{}`` removes them); pause
    (``{"paused": true}``) or resume it."""
    runtime = context.runtime
    given = changes.model_dump(exclude_none=True, exclude={"paused"})
    view = _answer(lambda: actions.edit_source(runtime, source_id, given, changes.paused))
    return SourceOut.of(view)


@router.delete(ONE_SOURCE, responses={**NOT_FOUND, **REFUSED})
def remove_source(context: Context, source_id: SourceId) -> SourceRemoved:
    """Stop watching it (what it delivered stays delivered)."""
    key = _answer(lambda: actions.remove_source(context.runtime, source_id))
    return SourceRemoved(key=key)


@router.post(
    "/api/sources/{id:path}/poll",
    status_code=HTTPStatus.ACCEPTED,
    responses={**NOT_FOUND, **problem(409, "The source is paused.")},
)
def poll_source(context: Context, source_id: SourceId) -> PolledOut:
    """Poll it now (its scheduled poll, when one waits already, becomes this one)."""
    made = _answer(lambda: actions.poll_now(context.runtime, source_id))
    return PolledOut(job_id=made.job.id, new_job=made.created)


@router.get("/api/destinations")
def list_destinations(context: Context) -> DestinationList:
    """Every destination, with where it came from and how many sources route to it."""
    views = _answer(lambda: actions.list_destinations(context.runtime))
    return DestinationList(destinations=[DestinationOut.of(view) for view in views])


def _changed(action: Callable[[], T]) -> T:
    """Run a destination's change; its refusals as the API's answers, a field named by its
    place in the body (``["body", "telegram", "chat_id"]``)."""
    try:
        return action()
    except actions.FieldError as exc:
        where = ["body", *exc.field.split(".")] if exc.field != "body" else ["body"]
        detail = [{"loc": where, "msg": str(exc), "type": "value_error"}]
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=detail) from None
    except actions.NotFoundError as exc:
        raise not_found(str(exc)) from None
    except actions.RefusedError as exc:
        raise conflict(str(exc)) from None


NO_DESTINATION = problem(404, "No such destination.")
DESTINATION_REFUSED = problem(
    409, "From the config file (change it there), or in use by sources or chats (named)."
)


@router.post(
    "/api/destinations",
    status_code=HTTPStatus.CREATED,
    responses={**BAD_BODY, **problem(409, "The name is in use (or from the config file).")},
)
def add_destination(context: Context, destination: DestinationIn) -> DestinationOut:
    """Add a Telegram chat (``telegram``) or an archive (``archive``) that sources may send
    posts to, as ``tikrelay destinations add`` and ``add-archive`` do."""
    settings = destination.model_dump(exclude_none=True, exclude={"name"})
    runtime = context.runtime
    view = _changed(lambda: destination_actions.add(runtime, destination.name, settings))
    return DestinationOut.of(view)


@router.patch(
    "/api/destinations/{name}",
    responses={**BAD_BODY, **NO_DESTINATION, **DESTINATION_REFUSED},
)
def edit_destination(
    context: Context, name: DestinationName, changes: DestinationPatch
) -> DestinationOut:
    """Change a destination: the body is merged into its entry (a key omitted is kept, null
    removes it so that its default applies). Sources routed to it keep their routes."""
    given = changes.model_dump(exclude_unset=True)
    view = _changed(lambda: destination_actions.edit(context.runtime, name, given))
    return DestinationOut.of(view)


@router.delete("/api/destinations/{name}", responses={**NO_DESTINATION, **DESTINATION_REFUSED})
def remove_destination(context: Context, name: DestinationName) -> DestinationRemoved:
    """Remove a destination no source routes to (and, for an archive, no chat archives to):
    409 names those that do."""
    removed = _changed(lambda: destination_actions.remove(context.runtime, name))
    return DestinationRemoved(name=removed)
