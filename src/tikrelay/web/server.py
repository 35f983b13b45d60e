"""Serving the app with uvicorn inside the process's own event loop: beside the worker and the bot
under ``tikrelay serve`` (a runtime companion), or alone under ``tikrelay web``.

The socket is bound before anything else starts, so that a port in use or a bad address is said
at once, naming ``web.listen``; connections that arrive before uvicorn runs wait in its backlog.
The process's signal handling stays the process's own: uvicorn's would re-raise SIGTERM after its
shutdown, which the worker would take for a second signal (stop now, without the grace time).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import structlog
import uvicorn
from pydantic import SecretStr

from tikrelay.config.settings import Settings, split_web_listen
from tikrelay.runtime.app import Companion, Runtime
from tikrelay.web.app import create_app
from tikrelay.web.auth import WebSetupError, web_token
from tikrelay.web.context import WebContext, web_context_of

log = structlog.get_logger("tikrelay.web")

#: Requests still running at shutdown get this long to finish.
SHUTDOWN_GRACE_SECONDS = 10


@dataclass
class WebListener:
    """The bound socket and the token: what is needed before the runtime opens."""

    sock: socket.socket
    token: SecretStr | None

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def close(self) -> None:
        self.sock.close()


def open_listener(settings: Settings, environ: Mapping[str, str] = os.environ) -> WebListener:
    """Check the token and bind ``web.listen``; WebSetupError names what to fix."""
    token = web_token(settings.web, environ)
    return WebListener(bind(settings.web.listen), token)


def bind(listen: str) -> socket.socket:
    host, port = split_web_listen(listen)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise WebSetupError(f"web.listen {listen!r}: unknown host ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise WebSetupError(
            f"web.listen {listen!r}: cannot listen there ({exc.strerror}): stop what uses the "
            "port, or choose another web.listen"
        ) from None
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process's own handlers stop us through the stop event (module docstring)


def _server(runtime: Runtime, listener: WebListener) -> tuple[uvicorn.Server, WebContext]:
    app = create_app(runtime, listener.token)
    config = uvicorn.Config(
        app,
        http="h11",
        ws="none",
        lifespan="off",
        log_config=None,  # our logging stays as configured; uvicorn's errors still show
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )
    return _Server(config), web_context_of(app)


async def serve_until(runtime: Runtime, listener: WebListener, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set (or the server fails: its error is raised here)."""
    server, context = _server(runtime, listener)
    serving = asyncio.create_task(server.serve(sockets=[listener.sock]))
    stopping = asyncio.create_task(stop.wait())
    log.info("web_started", url=listener.url, auth="none" if listener.token is None else "token")
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Live streams end first: uvicorn's graceful shutdown waits for every open response.
        context.stopping.set()
        server.should_exit = True
        stopping.cancel()
    await serving
    log.info("web_stopped")


def companion(runtime: Runtime, listener: WebListener) -> Companion:
    """The web server as a companion of ``Runtime.serve``: it stops with the worker."""

    async def run(stop: asyncio.Event) -> None:
        await serve_until(runtime, listener, stop)

    return run


def serve_alone(runtime: Runtime, listener: WebListener) -> None:
    """Serve until SIGTERM/SIGINT; requests still running get SHUTDOWN_GRACE_SECONDS."""
    asyncio.run(_alone(runtime, listener))


async def _alone(runtime: Runtime, listener: WebListener) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve_until(runtime, listener, stop)
