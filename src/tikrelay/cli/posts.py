"""``tikrelay posts``: the posts tikrelay has read, one line each, with where each was delivered
or why the source's filters kept it out."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tikrelay.cli.common import ConfigOption, fail, settings_from
from tikrelay.config.logging import configure_logging

if TYPE_CHECKING:
    from tikrelay.store.reports import PostLine

# The database layer is imported inside the command: `tikrelay --help` should not pay for it.

#: More lines than any terminal shows; the bound keeps LIMIT a 64-bit integer.
MAX_LIST = 100_000


def posts(
    filtered: Annotated[
        bool,
        typer.Option("--filtered", help="Only the posts the filters kept out, with the reason."),
    ] = False,
    source: Annotated[
        str | None,
        typer.Option(
            "--source", "-s", help="Only one source's posts: @username or its key (tiktok:@name)."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=MAX_LIST, help="How many posts at most.")
    ] = 50,
    config: Path | None = ConfigOption,
) -> None:
    """The newest posts: key, author, kind, when (UTC), and where each went or why not."""
    from tikrelay.reposter.catalog import InvalidEntryError, source_key
    from tikrelay.store import DatabaseError, open_engine
    from tikrelay.store.reports import post_lines

    configure_logging(level=logging.WARNING)
    settings = settings_from(config)
    try:
        key = None if source is None else source_key(source)
    except InvalidEntryError as exc:
        raise fail(f"--source: {exc}") from None
    try:
        engine = open_engine(settings)
        try:
            found = post_lines(engine, filtered=filtered, source=key, limit=limit)
        finally:
            engine.dispose()
    except DatabaseError as exc:
        raise fail(str(exc)) from None
    if not found:
        what = "no post was filtered out" if filtered else "no posts read yet"
        typer.echo(what + (f" for {key}" if key else ""))
        return
    for line in found:
        typer.echo(post_line(line, filtered_only=filtered))


def post_line(post: PostLine, *, filtered_only: bool = False) -> str:
    """``tiktok:7301  @alice  video  2026-12-05 18:51  delivered to clips; filtered for fans:
    views 812 < min_views 1000``."""
    author = f"@{post.author.lstrip('@')}" if post.author else "?"
    where = (
        [] if filtered_only or not post.delivered else [f"delivered to {', '.join(post.delivered)}"]
    )
    by_reason: dict[str, list[str]] = {}
    for destination, reason in post.filtered.items():
        by_reason.setdefault(reason, []).append(destination)
    where += [
        f"filtered for {', '.join(sorted(names))}: {reason}" for reason, names in by_reason.items()
    ]
    status = "; ".join(where) or "not delivered"
    return f"{post.key}  {author}  {post.kind or '?'}  {post.at:%Y-%m-%d %H:%M}  {status}"
