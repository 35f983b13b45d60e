"""The real server on 127.0.0.1: the address bound before it starts, answers over a socket, a
graceful stop by the companion's event, and the process's signal handlers left alone."""

from __future__ import annotations

import asyncio
import signal
import socket

import httpx
import pytest
from pydantic import SecretStr

from tests.support.web import AUTH, TOKEN
from tikrelay.runtime.app import Runtime
from tikrelay.web.auth import WebSetupError
from tikrelay.web.server import WebListener, bind, serve_until


async def test_serves_over_its_socket_until_the_stop_event(runtime: Runtime) -> None:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    listener = WebListener(bind("127.0.0.1:0"), SecretStr(TOKEN))
    address = listener.sock.getsockname()[:2]
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_until(runtime, listener, stop))
    async with httpx.AsyncClient(base_url=listener.url, timeout=30) as web:
        assert (await web.get("/healthz")).json() == {"status": "ok"}
        assert (await web.get("/api/jobs")).status_code == 401
        assert (await web.get("/api/jobs", headers=AUTH)).json() == {
            "jobs": [],
            "next_cursor": None,
        }
        assert "server" not in (await web.get("/healthz")).headers
    stop.set()
    await asyncio.wait_for(serving, 30)
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
    with pytest.raises(ConnectionRefusedError):  # closed: nothing listens there any more
        socket.create_connection(address, timeout=5).close()


def test_a_port_in_use_is_refused_naming_the_key() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(WebSetupError) as refused:
            bind(f"127.0.0.1:{port}")
    assert str(refused.value) == (
        f"web.listen '127.0.0.1:{port}': cannot listen there (Address already in use): stop "
        "what uses the port, or choose another web.listen"
    )


def test_the_address_shown_for_ipv6() -> None:
    listener = WebListener(bind("[::1]:0"), None)
    try:
        assert listener.url.startswith("http://[::1]:")
    finally:
        listener.close()
