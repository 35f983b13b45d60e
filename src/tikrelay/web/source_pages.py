"""The sources page: every source with what its polls did (last and next poll, last error), a
form to add one, and per source: edit, pause or resume, poll now.

Plain HTML forms posting to these routes (each with the page's CSRF value, ``web.views``), so
the page works without script; each change goes through ``runtime.actions`` as the API's do,
then answers 303 back to the list with what was done (post, redirect, get: a reload does not
post again). A refused change shows the form again with the message, which names the field.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response

from tikrelay.runtime import actions
from tikrelay.web.forms import FormRefusalError, attempt, optional_number
from tikrelay.web.views import Context, FormViewer, PageViewer, Viewer, go, render

router = APIRouter(include_in_schema=False)
#: ``{ref:path}``: a ``url:`` source's key holds slashes (``web.views.path_part`` escapes them;
#: they arrive unescaped).
SourceRef = Annotated[str, Path(min_length=1, max_length=300)]
#: The number rules of a source's ``filters`` as the form names them, and whether each takes a
#: fraction.
NUMBER_RULES = {
    "min_views": False,
    "min_likes": False,
    "max_age_days": True,
    "min_duration": True,
    "max_duration": True,
    "min_height": False,
}
WORD_RULES = ("include", "exclude")
KINDS = ("video", "slideshow")
#: Each form field, empty when not given: the source's own, then its filters'.
FIELDS = ("depth", "backfill", "every_minutes", *NUMBER_RULES, *WORD_RULES)
#: What a change that worked says on the list, by the ``done`` query value.
DONE = {
    "added": "Added {source}; its first poll is job {job}.",
    "edited": "Saved {source}.",
    "paused": "Paused {source}: it is not polled until resumed.",
    "resumed": "Resumed {source}.",
    "polled": "Polling {source} now: job {job}.",
}


def _options(form: dict[str, Any]) -> dict[str, Any]:
    """``depth``, ``backfill``, ``every_minutes`` and ``filters`` from the form's text: a field
    left empty is not given (``filters`` is None when no rule is)."""
    found = {
        "depth": optional_number("depth", form["depth"]),
        "backfill": optional_number("backfill", form["backfill"]),
        "every_minutes": optional_number("every_minutes", form["every_minutes"], fraction=True),
        "filters": _filters(form),
    }
    return {key: value for key, value in found.items() if value is not None}


def _filters(form: dict[str, Any]) -> dict[str, Any] | None:
    rules: dict[str, Any] = {}
    for name, fraction in NUMBER_RULES.items():
        value = optional_number(f"filters.{name}", form[name], fraction=fraction)
        if value is not None:
            rules[name] = value
    if form["kinds"]:
        rules["kinds"] = list(form["kinds"])
    for name in WORD_RULES:
        terms = [term.strip() for term in form[name].split(",") if term.strip()]
        if terms:
            rules[name] = terms
    return rules or None


Number = Annotated[str, Form(max_length=20)]
Words = Annotated[str, Form(max_length=4000)]


def settings_form(
    to: Annotated[list[str] | None, Form()] = None,
    depth: Number = "",
    backfill: Number = "",
    every_minutes: Number = "",
    min_views: Number = "",
    min_likes: Number = "",
    max_age_days: Number = "",
    kinds: Annotated[list[str] | None, Form()] = None,
    min_duration: Number = "",
    max_duration: Number = "",
    min_height: Number = "",
    include: Words = "",
    exclude: Words = "",
) -> dict[str, Any]:
    """What the add and edit forms send of a source's settings, as the page shows it again."""
    return {
        "to": to or [],
        "depth": depth,
        "backfill": backfill,
        "every_minutes": every_minutes,
        "min_views": min_views,
        "min_likes": min_likes,
        "max_age_days": max_age_days,
        "kinds": [k for k in kinds or [] if k],
        "min_duration": min_duration,
        "max_duration": max_duration,
        "min_height": min_height,
        "include": include,
        "exclude": exclude,
    }


SettingsForm = Annotated[dict[str, Any], Depends(settings_form)]


def _shown(source: actions.SourceView) -> dict[str, Any]:
    """A source's settings as the edit form shows them."""
    rules = source.filters or {}
    form: dict[str, Any] = {
        "to": source.to,
        "depth": str(source.depth),
        "backfill": "" if source.backfill is None else str(source.backfill),
        "every_minutes": f"{source.every_minutes:g}",
        "kinds": rules.get("kinds", []),
    }
    for name in NUMBER_RULES:
        value = rules.get(name)
        form[name] = "" if value is None else actions.number_text(value)
    for name in WORD_RULES:
        form[name] = ", ".join(rules.get(name, []))
    return form


def _list(
    request: Request,
    context: Context,
    viewer: Viewer,
    *,
    notice: str | None = None,
    problem: FormRefusalError | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    runtime = context.runtime
    values = {
        "sources": actions.list_sources(runtime),
        "destinations": actions.list_destinations(runtime),
        "notice": notice,
        "problem": problem,
        "form": form or {"to": [], "kinds": []},
        "kinds": KINDS,
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
    settings: SettingsForm,
    tiktok: Annotated[str, Form(max_length=300)] = "",
    url: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    form = {"tiktok": tiktok, "url": url, **settings}
    to = form["to"]
    try:
        entry = _entry(tiktok, url)
        if not to:
            raise FormRefusalError(
                "to", "to: choose at least one destination", HTTPStatus.UNPROCESSABLE_ENTITY
            )
        options = {**_options(form), **{k: v for k, v in entry.items() if k != "tiktok"}}
        view, made = attempt(
            "source",
            lambda: actions.add_source(context.runtime, entry.get("tiktok"), list(to), options),
        )
    except FormRefusalError as refused:
        return _list(request, context, viewer, problem=refused, form=form)
    return _done("added", view.key, made.job.id)


def _entry(tiktok: str, url: str) -> dict[str, str]:
    """The source the add form names: a creator, or a channel or playlist (either field takes
    an address; ``actions.source_entry`` tells them apart)."""
    tiktok, url = tiktok.strip(), url.strip()
    if tiktok and url:
        raise FormRefusalError(
            "url",
            "url: give a TikTok creator or a channel or playlist address, not both",
            HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    if not tiktok and not url:
        raise FormRefusalError(
            "tiktok",
            "tiktok: enter a creator (@name or profile URL), or a channel or playlist address "
            "in url",
            HTTPStatus.UNPROCESSABLE_ENTITY,
        )
    return actions.source_entry(tiktok) if tiktok else {"url": url}


def _edit_page(
    request: Request,
    viewer: Viewer,
    source: actions.SourceView,
    destinations: list[actions.DestinationView],
    problem: FormRefusalError | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    values = {
        "source": source,
        "destinations": destinations,
        "form": form or _shown(source),
        "kinds": KINDS,
        "problem": problem,
    }
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


@router.get("/sources/{ref:path}/edit")
def edit_form(request: Request, context: Context, viewer: PageViewer, ref: SourceRef) -> Response:
    found = _find(context, ref)
    if found is None:
        return _missing(request, viewer, ref)
    return _edit_page(request, viewer, found, actions.list_destinations(context.runtime))


@router.post("/sources/{ref:path}/edit")
def edit_source(
    request: Request,
    context: Context,
    viewer: FormViewer,
    ref: SourceRef,
    form: SettingsForm,
) -> Response:
    found = _find(context, ref)
    if found is None:
        return _missing(request, viewer, ref)
    to = form["to"]
    try:
        if not to:
            raise FormRefusalError(
                "to", "to: choose at least one destination", HTTPStatus.UNPROCESSABLE_ENTITY
            )
        # The form shows every key: backfill and filters left empty go back to none.
        changes: dict[str, Any] = dict.fromkeys(("backfill", "filters"))
        changes.update({"to": list(to), **_options(form)})
        view = attempt(
            "source", lambda: actions.edit_source(context.runtime, found.key, changes, None)
        )
    except FormRefusalError as refused:
        destinations = actions.list_destinations(context.runtime)
        return _edit_page(request, viewer, found, destinations, refused, form)
    return _done("edited", view.key)


def _change(request: Request, context: Context, viewer: Viewer, ref: str, done: str) -> Response:
    runtime = context.runtime
    try:
        if done == "polled":
            made = attempt("source", lambda: actions.poll_now(runtime, ref))
            return _done(done, actions.check_source_ref(ref), made.job.id)
        view = attempt("source", lambda: actions.edit_source(runtime, ref, {}, done == "paused"))
    except FormRefusalError as refused:
        return _list(request, context, viewer, problem=refused)
    return _done(done, view.key)


@router.post("/sources/{ref:path}/pause")
def pause(request: Request, context: Context, viewer: FormViewer, ref: SourceRef) -> Response:
    return _change(request, context, viewer, ref, "paused")


@router.post("/sources/{ref:path}/resume")
def resume(request: Request, context: Context, viewer: FormViewer, ref: SourceRef) -> Response:
    return _change(request, context, viewer, ref, "resumed")


@router.post("/sources/{ref:path}/poll")
def poll(request: Request, context: Context, viewer: FormViewer, ref: SourceRef) -> Response:
    return _change(request, context, viewer, ref, "polled")
