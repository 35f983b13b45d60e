"""The sources page: every source with what its polls did (last and next poll, last error), a
form to add one, and per source: edit, pause or resume, poll now.

Plain HTML forms posting to these routes (each with the page's CSRF value, ``web.views``), so
the page works without script; each change goes through ``runtime.actions`` as the API's do,
then answers 303 back to the list with what was done (post, redirect, get: a reload does not
post again). A refused change shows the form again with the message, which names the field.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response

from tikrelay.runtime import actions
from tikrelay.web.views import Context, FormViewer, PageViewer, Viewer, go, render

T = TypeVar("T")

router = APIRouter(include_in_schema=False)
SourceRef = Annotated[str, Path(min_length=1, max_length=300)]
#: What a change that worked says on the list, by the ``done`` query value.
DONE = {
    "added": "Added {source}; its first poll is job {job}.",
    "edited": "Saved {source}.",
    "paused": "Paused {source}: it is not polled until resumed.",
    "resumed": "Resumed {source}.",
    "polled": "Polling {source} now: job {job}.",
}


class _RefusedError(Exception):
    def __init__(self, field: str, message: str, status: int) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def _attempt(action: Callable[[], T]) -> T:
    try:
        return action()
    except actions.FieldError as exc:
        raise _RefusedError(exc.field, str(exc), HTTPStatus.UNPROCESSABLE_ENTITY) from None
    except actions.NotFoundError as exc:
        raise _RefusedError("source", str(exc), HTTPStatus.NOT_FOUND) from None
    except actions.RefusedError as exc:
        raise _RefusedError("source", str(exc), HTTPStatus.CONFLICT) from None


def _number(field: str, text: str, *, fraction: bool = False) -> int | float | None:
    """An optional number of a form; empty is None."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text) if fraction else int(text)
    except ValueError:
        kind = "a number" if fraction else "a whole number"
        raise _RefusedError(
            field, f"{field}: {text!r} is not {kind}", HTTPStatus.UNPROCESSABLE_ENTITY
        ) from None


def _options(depth: str, backfill: str, every_minutes: str) -> dict[str, Any]:
    found = {
        "depth": _number("depth", depth),
        "backfill": _number("backfill", backfill),
        "every_minutes": _number("every_minutes", every_minutes, fraction=True),
    }
    return {key: value for key, value in found.items() if value is not None}


def _list(
    request: Request,
    context: Context,
    viewer: Viewer,
    *,
    notice: str | None = None,
    problem: _RefusedError | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    runtime = context.runtime
    values = {
        "sources": actions.list_sources(runtime),
        "destinations": actions.list_destinations(runtime),
        "notice": notice,
        "problem": problem,
        "form": form or {"to": []},
    }
    status = problem.status if problem is not None else HTTPStatus.OK
    return render(request, "sources.html", values, viewer, status=status)


@router.get("/sources")
def sources_page(
    request: Request,
    context: Context,
    viewer: PageViewer,
    done: Annotated[str | None, Query(max_length=20)] = None,
    source: Annotated[str | None, Query(max_length=300)] = None,
    job: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    notice = None
    if done in DONE and source:
        notice = DONE[done].format(source=source, job=job)
    return _list(request, context, viewer, notice=notice)


def _done(done: str, source: str, job: int | None = None) -> Response:
    query = {"done": done, "source": source, **({"job": str(job)} if job else {})}
    return go(f"/sources?{urlencode(query)}")


@router.post("/sources")
def add_source(
    request: Request,
    context: Context,
    viewer: FormViewer,
    tiktok: Annotated[str, Form(max_length=300)] = "",
    to: Annotated[list[str] | None, Form()] = None,
    depth: Annotated[str, Form(max_length=20)] = "",
    backfill: Annotated[str, Form(max_length=20)] = "",
    every_minutes: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    form = {
        "tiktok": tiktok,
        "to": to or [],
        "depth": depth,
        "backfill": backfill,
        "every_minutes": every_minutes,
    }
    try:
        if not tiktok.strip():
            raise _RefusedError(
                "tiktok",
                "tiktok: enter a creator (@name or profile URL)",
                HTTPStatus.UNPROCESSABLE_ENTITY,
            )
        if not to:
            raise _RefusedError(
                "to", "to: choose at least one destination", HTTPStatus.UNPROCESSABLE_ENTITY
            )
        options = _options(depth, backfill, every_minutes)
        view, made = _attempt(
            lambda: actions.add_source(context.runtime, tiktok.strip(), list(to), options)
        )
    except _RefusedError as refused:
        return _list(request, context, viewer, problem=refused, form=form)
    return _done("added", view.key, made.job.id)


def _edit_page(
    request: Request,
    viewer: Viewer,
    source: actions.SourceView,
    destinations: list[actions.DestinationView],
    problem: _RefusedError | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    shown = form or {
        "to": source.to,
        "depth": str(source.depth),
        "backfill": "" if source.backfill is None else str(source.backfill),
        "every_minutes": f"{source.every_minutes:g}",
    }
    values = {"source": source, "destinations": destinations, "form": shown, "problem": problem}
    status = problem.status if problem is not None else HTTPStatus.OK
    return render(request, "source_edit.html", values, viewer, status=status)


def _find(context: Context, ref: str) -> actions.SourceView | None:
    try:
        key = actions.check_source_ref(ref)
    except actions.FieldError:
        return None
    return next((s for s in actions.list_sources(context.runtime) if s.key == key), None)


def _missing(request: Request, viewer: Viewer, ref: str) -> Response:
    values = {"title": "No such source", "message": f"There is no source {ref} in the catalog."}
    return render(request, "missing.html", values, viewer, status=HTTPStatus.NOT_FOUND)


@router.get("/sources/{ref}/edit")
def edit_form(request: Request, context: Context, viewer: PageViewer, ref: SourceRef) -> Response:
    found = _find(context, ref)
    if found is None:
        return _missing(request, viewer, ref)
    return _edit_page(request, viewer, found, actions.list_destinations(context.runtime))


@router.post("/sources/{ref}/edit")
def edit_source(
    request: Request,
    context: Context,
    viewer: FormViewer,
    ref: SourceRef,
    to: Annotated[list[str] | None, Form()] = None,
    depth: Annotated[str, Form(max_length=20)] = "",
    backfill: Annotated[str, Form(max_length=20)] = "",
    every_minutes: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    found = _find(context, ref)
    if found is None:
        return _missing(request, viewer, ref)
    form = {"to": to or [], "depth": depth, "backfill": backfill, "every_minutes": every_minutes}
    try:
        if not to:
            raise _RefusedError(
                "to", "to: choose at least one destination", HTTPStatus.UNPROCESSABLE_ENTITY
            )
        changes = {"to": list(to), **_options(depth, backfill, every_minutes)}
        if not backfill.strip():
            changes["backfill"] = None
        view = _attempt(lambda: actions.edit_source(context.runtime, found.key, changes, None))
    except _RefusedError as refused:
        destinations = actions.list_destinations(context.runtime)
        return _edit_page(request, viewer, found, destinations, refused, form)
    return _done("edited", view.key)


def _change(request: Request, context: Context, viewer: Viewer, ref: str, done: str) -> Response:
    runtime = context.runtime
    try:
        if done == "polled":
            made = _attempt(lambda: actions.poll_now(runtime, ref))
            return _done(done, actions.check_source_ref(ref), made.job.id)
        view = _attempt(lambda: actions.edit_source(runtime, ref, {}, done == "paused"))
    except _RefusedError as refused:
        return _list(request, context, viewer, problem=refused)
    return _done(done, view.key)


@router.post("/sources/{ref}/pause")
def pause(request: Request, context: Context, viewer: FormViewer, ref: SourceRef) -> Response:
    return _change(request, context, viewer, ref, "paused")


@router.post("/sources/{ref}/resume")
def resume(request: Request, context: Context, viewer: FormViewer, ref: SourceRef) -> Response:
    return _change(request, context, viewer, ref, "resumed")


@router.post("/sources/{ref}/poll")
def poll(request: Request, context: Context, viewer: FormViewer, ref: SourceRef) -> Response:
    return _change(request, context, viewer, ref, "polled")
