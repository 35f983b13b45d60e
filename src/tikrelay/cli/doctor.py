"""``tikrelay doctor``: check everything a run needs, one line per check, each problem with its fix.

The checks that wait on a network or a process run at the same time, each with a time limit, so
the command finishes in seconds even when every peer is down. Blocking ones (database drivers,
yt-dlp, DNS) run in daemon threads: a thread stuck past its limit must not keep the command from
exiting, as a thread of asyncio's default pool would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tikrelay.cli.common import ConfigOption, settings_from
from tikrelay.cli.doctor_checks import (
    NETWORK_TIMEOUT,
    Check,
    check_network,
    failed,
    in_daemon_thread,
    passed,
)
from tikrelay.config.loader import CONFIG_ENV, TOKEN_ENV
from tikrelay.config.logging import REDACTED, configure_logging, redact_text
from tikrelay.config.settings import Settings
from tikrelay.domain.errors import ErrorKind, TikrelayError

if TYPE_CHECKING:
    from tikrelay.destinations.telegram import TelegramSender
    from tikrelay.reposter.model import Route
    from tikrelay.reposter.relay import Relay


#: Some check failed; each ✗ line says what to fix.
EXIT_PROBLEMS = 1
FFMPEG_TIMEOUT = 5.0


def doctor(config: Path | None = ConfigOption) -> None:
    """Check the config, bot token, destinations, ffmpeg, database, state folder, cookies and
    network, and say what to fix. Exit 0: all passed; 1: something to fix; 2: the config does
    not load."""
    settings = settings_from(config)
    configure_logging(level=logging.ERROR)
    # Library log records (python-telegram-bot logs a refused token with a traceback) would
    # interleave with the report, which already has a line for every failure.
    logging.getLogger().addHandler(logging.NullHandler())
    source = config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    checks = asyncio.run(examine(settings, source))
    token = settings.telegram.bot_token
    secret = token.get_secret_value() if token else ""
    for check in checks:
        show(check, secret)
    problems = [c for c in checks if not c.ok]
    done = [c for c in checks if not c.skipped]
    if problems:
        typer.echo(f"{len(problems)} of {len(done)} checks failed")
        raise typer.Exit(EXIT_PROBLEMS)
    typer.echo(f"all {len(done)} checks passed")


def show(check: Check, secret: str) -> None:
    def clean(text: str) -> str:
        # Messages are redacted where they are made; this is the last guard before the screen.
        return redact_text(text.replace(secret, REDACTED) if secret.strip() else text)

    if check.skipped:
        typer.secho(clean(f"· {check.label}: {check.found}"), dim=True)
    elif check.ok:
        typer.secho(clean(f"✓ {check.label}: {check.found}"), fg=typer.colors.GREEN)
    for problem in check.problems:
        typer.secho(clean(f"✗ {check.label}: {problem}"), fg=typer.colors.RED)
    for note in check.notes:
        typer.secho(clean(f"    note: {note}"), dim=True)


async def examine(settings: Settings, source: Path | None) -> list[Check]:
    """Every check, in the order they are shown."""
    loaded = f"{source} loads" if source else "no file given: defaults and TIKRELAY_* variables"
    checks = [passed("config", loaded), check_sources(settings)]
    network = settings.network
    with tempfile.TemporaryDirectory(prefix="tikrelay-doctor-") as ca_folder:
        groups = await asyncio.gather(
            check_telegram(relay_for(settings), settings),
            gathered(check_ffmpeg(settings.ffmpeg)),
            gathered(check_database(settings)),
            check_network(network, Path(ca_folder)),
        )
    telegram, ffmpeg, database, reachability = groups
    checks += [*telegram, *ffmpeg, *database, check_state_folder(settings.state_dir)]
    if network.cookies_file is not None:
        checks.append(check_cookies(network.cookies_file))
    return [*checks, *reachability]


async def gathered(check: Awaitable[Check]) -> list[Check]:
    return [await check]


# -- config --------------------------------------------------------------------------------------


def check_sources(settings: Settings) -> Check:
    from tikrelay.reposter.model import SetupError, check_relay_settings, watched_sources

    try:
        check_relay_settings(settings)
    except SetupError as exc:
        return failed("sources", str(exc))
    watched = watched_sources(settings)
    if not watched:
        return failed(
            "sources",
            "nothing is watched: add a creator under sources (tiktok: '@name', to: [...])",
        )
    names = ", ".join(f"@{w.username}" for w in watched)
    templates = sum(1 for d in settings.destinations.values() if d.caption)
    captions = f"; {counted(templates, 'caption template')} compile" if templates else ""
    return passed("sources", f"{counted(len(watched), 'creator')} ({names}){captions}")


def counted(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def relay_for(settings: Settings) -> Relay:
    from tikrelay.reposter.relay import Relay

    try:
        return Relay(settings)
    except ValueError:  # a bad creator reference, reported by its own check; the bot needs none
        return Relay(settings.model_copy(update={"sources": []}))


# -- Telegram ------------------------------------------------------------------------------------


async def check_telegram(relay: Relay, settings: Settings) -> list[Check]:
    """The token (getMe), then every destination, within one session of the bot."""
    from tikrelay.reposter.model import Route

    api = settings.telegram.api_url
    routes = [Route(name, found) for name, found in settings.destinations.items()]
    unchecked = [
        Check(
            f"destination {r.name}",
            found="not checked: the bot token must work first",
            skipped=True,
        )
        for r in routes
    ]
    token = settings.telegram.bot_token
    if token is None or not token.get_secret_value().strip():
        problem = f"no bot token: set {TOKEN_ENV} in the environment (from @BotFather)"
        return [failed("telegram", problem), *unchecked]
    async with contextlib.AsyncExitStack() as session:
        try:
            async with asyncio.timeout(NETWORK_TIMEOUT):
                sender = await session.enter_async_context(relay.sender)
                username = await sender.whoami()
        except TimeoutError:
            problem = f"{api} did not answer within {NETWORK_TIMEOUT:g} s: check telegram.api_url"
            return [failed("telegram", problem), *unchecked]
        except TikrelayError as exc:
            return [
                failed("telegram", token_problem(exc, api, token.get_secret_value())),
                *unchecked,
            ]
        bot = passed("telegram", f"the token is accepted: bot @{username} at {api}")
        destinations = await asyncio.gather(*(check_destination(sender, r) for r in routes))
    return [bot, *destinations]


def token_problem(error: TikrelayError, api: str, token: str) -> str:
    if error.kind is not ErrorKind.AUTH:
        return f"{error.message}: check telegram.api_url ({api}) and this machine's connection"
    if os.environ.get(TOKEN_ENV, "").strip() != token.strip():
        return (
            f"{error.message}; the token in use is telegram.bot_token (the config file or "
            f"TIKRELAY_TELEGRAM__BOT_TOKEN), which wins over {TOKEN_ENV}: fix or remove it"
        )
    return error.message


async def check_destination(sender: TelegramSender, route: Route) -> Check:
    label = f"destination {route.name}"
    target = route.target
    try:
        async with asyncio.timeout(NETWORK_TIMEOUT):
            found = await sender.check_destination(target)
    except TimeoutError:
        return failed(label, f"Telegram did not answer about {target} in time: run doctor again")
    if not found.ok:  # the fixes alone: notes would only bury them
        return failed(label, *found.problems)
    title = f" '{found.chat_title}'" if found.chat_title else ""
    where = f"{found.chat_type}{title} ({target.chat_id})"
    if target.topic_id is not None:
        where += f", topic {target.topic_id}"
    status = f": the bot is {found.bot_status}" if found.bot_status else ""
    return passed(label, f"{where}{status}", found.notes)


# -- ffmpeg, database, state folder, cookies -----------------------------------------------------


async def check_ffmpeg(configured: str | None) -> Check:
    from tikrelay.media.ffmpeg import FFmpegNotFoundError, ffmpeg_path

    fix = "set ffmpeg: to a working binary, or remove the key to use the bundled one"
    try:
        path = ffmpeg_path(configured)
    except FFmpegNotFoundError as exc:  # the bundled binary, or one gone since the config loaded
        return failed("ffmpeg", exc.message)
    try:
        process = await asyncio.create_subprocess_exec(
            str(path), "-version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
    except OSError as exc:
        return failed("ffmpeg", f"{path} cannot be started ({exc.strerror}): {fix}")
    try:
        output, _ = await asyncio.wait_for(process.communicate(), FFMPEG_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        return failed("ffmpeg", f"{path} -version did not finish in {FFMPEG_TIMEOUT:g} s: {fix}")
    if process.returncode != 0:
        return failed("ffmpeg", f"{path} -version exited with status {process.returncode}: {fix}")
    first = output.decode(errors="replace").partition("\n")[0]
    return passed("ffmpeg", f"{path} ({first.partition(' Copyright')[0].strip()})")


async def check_database(settings: Settings) -> Check:
    try:
        return await asyncio.wait_for(
            in_daemon_thread(lambda: inspect_database(settings)), NETWORK_TIMEOUT
        )
    except TimeoutError:
        return failed(
            "database",
            f"no answer within {NETWORK_TIMEOUT:g} s: check that the server in database_url runs",
        )


def inspect_database(settings: Settings) -> Check:
    """Reachable, and at which schema revision; an SQLite file that is not there yet is fine."""
    from sqlalchemy.exc import SQLAlchemyError

    from tikrelay.store import DatabaseError, open_engine
    from tikrelay.store.engine import database_url
    from tikrelay.store.migrate import HEAD, current_revision

    sqlite = sqlite_file(settings)
    if sqlite is not None and not sqlite.exists():
        return passed("database", f"{sqlite} does not exist yet; it is created on the next run")
    try:  # without prepare: doctor changes no mode, the next run does
        engine = open_engine(settings, upgrade=False, pool_size=1, prepare=False)
    except DatabaseError as exc:
        return failed("database", str(exc))
    except SQLAlchemyError as exc:  # e.g. a file that is not an SQLite database
        return failed("database", f"database_url: cannot be opened: {exc}")
    shown = database_url(settings, prepare=False).render_as_string(hide_password=True)
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        return failed("database", f"database_url: reading the schema revision failed: {exc}")
    finally:
        engine.dispose()
    notes = shared_note(sqlite)
    if revision is None:
        return passed(
            "database", f"{shown} is empty; its tables are created on the next run", notes
        )
    if revision == HEAD:
        return passed("database", f"{shown}, schema at revision {HEAD} (current)", notes)
    if revision in known_revisions():
        return passed(
            "database",
            f"{shown}, schema at revision {revision}: it will be upgraded to {HEAD} "
            "on the next run",
            notes,
        )
    return failed(
        "database",
        f"{shown} has schema revision {revision}, newer than this tikrelay knows ({HEAD}): "
        "upgrade tikrelay, or point database_url at another database",
    )


def sqlite_file(settings: Settings) -> Path | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from tikrelay.config.paths import StatePaths

    if settings.database_url is None:
        return StatePaths(settings.state_dir).database_file
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        return None  # opening it reports the bad URL
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from tikrelay.store.migrate import alembic_config

    return {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }


def check_state_folder(root: Path) -> Check:
    """What ``StatePaths.ensure`` will find, without creating or changing anything."""
    from tikrelay.config.paths import StateDirError, nearest_existing_parent

    label = "state folder"
    if root.exists():
        if not root.is_dir():
            return failed(label, str(StateDirError.is_a_file(root)))
        try:
            with tempfile.TemporaryFile(dir=root):
                pass
        except OSError as exc:
            return failed(label, str(StateDirError.not_writable(root, exc.strerror or str(exc))))
        return passed(label, f"{root} is writable", shared_note(root))
    parent = nearest_existing_parent(root)
    if not parent.is_dir():
        return failed(label, str(StateDirError.under_a_file(root, parent)))
    if os.access(parent, os.W_OK | os.X_OK):
        return passed(label, f"{root} does not exist yet; it is created on the next run")
    return failed(label, str(StateDirError.cannot_create(root, parent)))


def shared_note(path: Path | None) -> tuple[str, ...]:
    """A note when others have permissions on ``path``; the next run takes them away."""
    if path is None or not path.exists():
        return ()
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return ()
    return (f"other users may read {path} (mode {mode:04o}); the next run makes it private",)


def check_cookies(path: Path) -> Check:
    from tikrelay.sources.ytdlp import check_cookie_file

    try:
        check_cookie_file(path)
    except TikrelayError as exc:
        return failed("cookies", exc.message)
    return passed("cookies", f"{path} exists and only its owner may read it")
