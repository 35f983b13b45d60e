"""The destinations page: every destination with where it posts and how many sources route to
it, forms that add a Telegram chat, an archive or a TikTok account, and per destination: edit,
remove. A TikTok account's tokens never go through the web: ``tikrelay tiktok-auth NAME`` on the
server stores them, before or after the destination is added; the page says which accounts still
need it.

Plain HTML forms posting to these routes (each with the page's CSRF value, ``web.views``), as
on the sources page: each change goes through ``runtime.destination_actions`` as the API's do,
then answers 303 back to the list with what was done; a refused one shows the form again with
the message, which names the field. Destinations from the config file are shown read-only.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import Response

from tikrelay.runtime import actions, destination_actions
from tikrelay.runtime.app import Runtime
from tikrelay.runtime.destination_actions import CatalogDestination
from tikrelay.web.forms import FormRefusalError, attempt, invalid, optional_number
from tikrelay.web.views import Context, FormViewer, PageViewer, Viewer, go, render

router = APIRouter(include_in_schema=False)
NameRef = Annotated[str, Path(min_length=1, max_length=200)]
Short = Annotated[str, Form(max_length=300)]
#: What a change that worked says on the list, by the ``done`` query value.
DONE = {
    "added": "Added destination {name}.",
    "edited": "Saved destination {name}.",
    "removed": "Removed destination {name}.",
}
KINDS = ("telegram", "archive", "tiktok")


def _chat(form: dict[str, Any]) -> dict[str, Any]:
    """A chat's entry from its form; every key, None for one left empty (its default)."""
    if not form["chat_id"].strip():
        raise invalid("telegram.chat_id", "chat_id: enter the chat (-100… or @channel)")
    telegram = {
        "chat_id": form["chat_id"].strip(),
        "topic_id": optional_number("topic_id", form["topic_id"]),
        "oversize": form["oversize"] or None,
        "slideshow": form["slideshow"] or None,
    }
    return {
        "telegram": telegram,
        "caption": form["caption"] if form["caption"].strip() else None,
        "link": True if form["link"] else None,
        "slideshow_audio": None if form["slideshow_audio"] else False,
        "archive_to": form["archive_to"] or None,
    }


def _archive(form: dict[str, Any]) -> dict[str, Any]:
    """An archive's entry from its form; every key, None for one left empty."""
    path, url = form["path"].strip(), form["url"].strip()
    if not path and not url:
        raise invalid("archive.path", "path: enter a folder, or an s3:// or az:// url")
    archive = {
        "path": path or None,
        "url": url or None,
        "keep_days": optional_number("keep_days", form["keep_days"], fraction=True),
    }
    if "endpoint_url" in form:
        archive["endpoint_url"] = form["endpoint_url"].strip() or None
    return {"archive": archive}


def _tiktok(form: dict[str, Any]) -> dict[str, Any]:
    """A TikTok account's entry from its form; every key, None for one left empty."""
    account = form["account"].strip()
    if not account:
        raise invalid(
            "tiktok.account", "account: enter the account's name, as given to tikrelay tiktok-auth"
        )
    tiktok = {
        "account": account,
        "mode": form["mode"] or None,
        "privacy_level": form["privacy_level"] or None,
        "credit": None if form["credit"] else False,
    }
    return {"tiktok": tiktok}


def _entry(kind: str, form: dict[str, Any]) -> dict[str, Any]:
    if kind == "archive":
        return _archive(form)
    return _tiktok(form) if kind == "tiktok" else _chat(form)


def _kind(found: CatalogDestination) -> str:
    if found.settings.archive is not None:
        return "archive"
    return "tiktok" if found.settings.tiktok is not None else "telegram"


def _given(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry without its empty keys: what an add stores."""
    return {
        key: _given(value) if isinstance(value, dict) else value
        for key, value in entry.items()
        if value is not None
    }


def _list(
    request: Request,
    context: Context,
    viewer: Viewer,
    *,
    notice: str | None = None,
    problem: FormRefusalError | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    destinations = actions.list_destinations(context.runtime)
    values = {
        "destinations": destinations,
        "archives": [d.name for d in destinations if d.kind == "archive"],
        "unauthorized": destination_actions.unauthorized_accounts(context.runtime),
        "notice": notice,
        "problem": problem,
        "form": form or {"kind": "", "slideshow_audio": "on"},
    }
    status = problem.status if problem is not None else HTTPStatus.OK
    return render(request, "destinations.html", values, viewer, status=status)


@router.get("/destinations")
def destinations_page(
    request: Request,
    context: Context,
    viewer: PageViewer,
    done: Annotated[str | None, Query(max_length=20)] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    notice = DONE[done].format(name=name) if done in DONE and name else None
    return _list(request, context, viewer, notice=notice)


def _done(done: str, name: str) -> Response:
    return go(f"/destinations?{urlencode({'done': done, 'name': name})}")


def entry_form(
    chat_id: Short = "",
    topic_id: Annotated[str, Form(max_length=20)] = "",
    caption: Annotated[str, Form(max_length=4096)] = "",
    link: Annotated[str, Form(max_length=10)] = "",
    slideshow_audio: Annotated[str, Form(max_length=10)] = "",
    oversize: Annotated[str, Form(max_length=20)] = "",
    slideshow: Annotated[str, Form(max_length=20)] = "",
    archive_to: Short = "",
    path: Annotated[str, Form(max_length=2048)] = "",
    url: Annotated[str, Form(max_length=2048)] = "",
    keep_days: Annotated[str, Form(max_length=20)] = "",
    account: Short = "",
    mode: Annotated[str, Form(max_length=20)] = "",
    privacy_level: Annotated[str, Form(max_length=40)] = "",
    credit: Annotated[str, Form(max_length=10)] = "",
) -> dict[str, Any]:
    """What the add and edit forms send of a destination's entry (the edit form does not show
    an archive's endpoint_url: it is kept), as the page shows it again."""
    return {
        "chat_id": chat_id,
        "topic_id": topic_id,
        "caption": caption,
        "link": link,
        "slideshow_audio": slideshow_audio,
        "oversize": oversize,
        "slideshow": slideshow,
        "archive_to": archive_to,
        "path": path,
        "url": url,
        "keep_days": keep_days,
        "account": account,
        "mode": mode,
        "privacy_level": privacy_level,
        "credit": credit,
    }


EntryForm = Annotated[dict[str, Any], Depends(entry_form)]


@router.post("/destinations")
def add_destination(
    request: Request,
    context: Context,
    viewer: FormViewer,
    fields: EntryForm,
    kind: Annotated[str, Form(max_length=20)] = "",
    name: Short = "",
    endpoint_url: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    form = {"kind": kind, "name": name, **fields, "endpoint_url": endpoint_url}
    try:
        if kind not in KINDS:
            raise invalid("kind", "kind: add a Telegram chat or an archive, or a TikTok account")
        if not name.strip():
            raise invalid("name", "name: enter a name for the destination, such as clips")
        entry = _entry(kind, form)
        view = attempt(
            "destination", lambda: destination_actions.add(context.runtime, name, _given(entry))
        )
    except FormRefusalError as refused:
        return _list(request, context, viewer, problem=refused, form=form)
    return _done("added", view.name)


def _edit_page(
    request: Request,
    runtime: Runtime,
    viewer: Viewer,
    found: CatalogDestination,
    archives: list[str],
    problem: FormRefusalError | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    values = {
        "destination": found,
        "kind": _kind(found),
        "unauthorized": destination_actions.unauthorized_accounts(runtime),
        "archives": [name for name in archives if name != found.name],
        "form": form or _shown(found),
        "problem": problem,
    }
    status = problem.status if problem is not None else HTTPStatus.OK
    return render(request, "destination_edit.html", values, viewer, status=status)


def _shown(found: CatalogDestination) -> dict[str, Any]:
    """The edit form's values: what the entry gives (empty for a default)."""
    given = found.settings.model_dump(mode="json", exclude_unset=True)
    inner = given.get("telegram") or given.get("archive") or given.get("tiktok") or {}
    form = {key: _text(value) for key, value in inner.items()}
    for key in ("caption", "archive_to"):
        form[key] = given.get(key) or ""
    form["link"] = "on" if given.get("link") else ""
    form["slideshow_audio"] = "" if given.get("slideshow_audio") is False else "on"
    form["credit"] = "" if inner.get("credit") is False else "on"
    return form


def _text(value: object) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _archives(context: Context) -> list[str]:
    return [d.name for d in actions.list_destinations(context.runtime) if d.kind == "archive"]


def _missing(request: Request, viewer: Viewer, name: str) -> Response:
    values = {
        "title": "No such destination",
        "message": f"There is no destination {name!r} in the catalog.",
    }
    return render(request, "missing.html", values, viewer, status=HTTPStatus.NOT_FOUND)


@router.get("/destinations/{name}/edit")
def edit_form(request: Request, context: Context, viewer: PageViewer, name: NameRef) -> Response:
    found = destination_actions.find(context.runtime, name)
    if found is None:
        return _missing(request, viewer, name)
    return _edit_page(request, context.runtime, viewer, found, _archives(context))


@router.post("/destinations/{name}/edit")
def edit_destination(
    request: Request,
    context: Context,
    viewer: FormViewer,
    name: NameRef,
    form: EntryForm,
) -> Response:
    found = destination_actions.find(context.runtime, name)
    if found is None:
        return _missing(request, viewer, name)
    try:
        # Every key of the form, None for an empty one: the entry becomes what the form shows
        # (its endpoint_url, which the form does not show, is kept).
        changes = _entry(_kind(found), form)
        view = attempt(
            "destination", lambda: destination_actions.edit(context.runtime, name, changes)
        )
    except FormRefusalError as refused:
        runtime = context.runtime
        return _edit_page(request, runtime, viewer, found, _archives(context), refused, form)
    return _done("edited", view.name)


@router.post("/destinations/{name}/remove")
def remove(request: Request, context: Context, viewer: FormViewer, name: NameRef) -> Response:
    try:
        removed = attempt("destination", lambda: destination_actions.remove(context.runtime, name))
    except FormRefusalError as refused:
        return _list(request, context, viewer, problem=refused)
    return _done("removed", removed)
