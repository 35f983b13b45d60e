"""The ``tikrelay`` command line: a thin edge that turns start-up errors into clear messages."""

from __future__ import annotations

import typer

from tikrelay import __version__
from tikrelay.cli.bot import bot
from tikrelay.cli.catalog import destinations_app, sources_app
from tikrelay.cli.cleanup import cleanup
from tikrelay.cli.doctor import doctor
from tikrelay.cli.init import init
from tikrelay.cli.jobs import db_app, jobs_app
from tikrelay.cli.posts import posts
from tikrelay.cli.run import run
from tikrelay.cli.sandbox import sandbox
from tikrelay.cli.serve import serve
from tikrelay.cli.tiktok import tiktok_auth
from tikrelay.cli.web import web
from tikrelay.cli.worker import worker

app = typer.Typer(
    name="tikrelay",
    help="Watch TikTok creators and repost every new video, slideshow and sound to Telegram.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(jobs_app, name="jobs")
app.add_typer(db_app, name="db")
app.add_typer(sources_app, name="sources")
app.add_typer(destinations_app, name="destinations")
app.command("init")(init)
app.command("run")(run)
app.command("serve")(serve)
app.command("worker")(worker)
app.command("sandbox")(sandbox)
app.command("doctor")(doctor)
app.command("cleanup")(cleanup)
app.command("posts")(posts)
app.command("bot")(bot)
app.command("web")(web)
app.command("tiktok-auth")(tiktok_auth)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tikrelay {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """tikrelay: TikTok to Telegram, exactly once."""


def main() -> None:
    """Console-script entry point."""
    app()
