"""The emulator's one port: an HTTP proxy that answers ``CONNECT`` for the emulated hosts
(TikTok's, and the web sites of web.py) by terminating TLS itself (certificate from a throwaway
CA), plain-http proxy requests for them, and the JSON control API. Any other host gets 502,
logged: the proxy never connects anywhere.

yt-dlp tunnels every https request through ``CONNECT`` with each of its request handlers
(urllib, requests, curl_cffi), so with ``proxy`` and ``nocheckcertificate`` it reaches this
emulator while asking for the real URLs.
"""

from __future__ import annotations

import asyncio
import fnmatch
import socket
import ssl
import struct
from typing import Any
from urllib.parse import urlsplit

import trustme

from tikrelay.sandbox.background import Served
from tikrelay.sandbox.tiktok.control import CONTROL_PREFIX, ControlAPI
from tikrelay.sandbox.tiktok.model import EMULATED_HOSTS
from tikrelay.sandbox.tiktok.site import TikTokSite
from tikrelay.sandbox.tiktok.wire import (
    MAX_HEAD,
    BadRequestError,
    Request,
    Response,
    read_request,
    write_response,
)
from tikrelay.sandbox.tiktok.world import TikTokWorld


def is_emulated(host: str) -> bool:
    return any(fnmatch.fnmatchcase(host, pattern) for pattern in EMULATED_HOSTS)


class TikTokEmulator(Served):
    """Serves a :class:`TikTokWorld` on ``host:port`` (0: any free port).

    Use ``async with TikTokEmulator(world) as emu:`` in async code, or
    ``with TikTokEmulator(world).running() as emu:`` from synchronous code.
    """

    thread_name = "tiktok-emulator"

    def __init__(self, world: TikTokWorld, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.world = world
        self.host = host
        self._port = port
        self._ca = trustme.CA(organization_name="tikrelay sandbox CA")
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(*EMULATED_HOSTS).configure_cert(self._tls)
        # curl_cffi offers h2 like Chrome; the emulator speaks HTTP/1.1 only.
        self._tls.set_alpn_protocols(["http/1.1"])
        self._site = TikTokSite(world)
        self._control = ControlAPI(world, ca_pem=self.ca_pem)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._stopping = False

    # -- addresses -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def proxy_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def control_url(self) -> str:
        return f"{self.proxy_url}{CONTROL_PREFIX}"

    @property
    def ydl_options(self) -> dict[str, Any]:
        """The only yt-dlp options that differ from production (a fresh dict each time)."""
        return {"proxy": self.proxy_url, "nocheckcertificate": True}

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate, for clients that would rather verify than skip verification."""
        return self._ca.cert_pem.bytes()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> TikTokEmulator:
        self._stopping = False
        self._server = await asyncio.start_server(
            self._accept, self.host, self._port, limit=MAX_HEAD
        )
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._stopping = True
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    # -- connections ---------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            first = await read_request(reader)
            if first is None:
                return
            if first.method == "CONNECT":
                await self._tunnel(first, reader, writer)
            else:
                await self._serve(reader, writer, first, tls_host=None)
        except (BadRequestError, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # the client went away or spoke nonsense: nothing to answer
        except asyncio.CancelledError:
            # Only stop() cancels these tasks, and it waits for them; ending normally keeps
            # asyncio's stream callback (3.11) from reporting the cancellation as an error.
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            if self._stopping:
                # A polite TLS close waits for the client's close_notify, which an idle pooled
                # client never sends; the loop may stop first and leak the socket.
                writer.transport.abort()
            else:
                writer.close()

    async def _tunnel(
        self, connect: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host = connect.target.rpartition(":")[0] or connect.target
        if not is_emulated(host):
            connect.host = host
            response = self._site.refuse(connect)
            await write_response(writer, response, head_only=False, keep_alive=False)
            return
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await writer.drain()
        await writer.start_tls(self._tls)
        await self._serve(reader, writer, await read_request(reader), tls_host=host)

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: Request | None,
        tls_host: str | None,
    ) -> None:
        """Answer requests on one connection until the client or a response closes it."""
        while request is not None:
            response = await self._answer(request, tls_host)
            if response.reset:
                _reset(writer)
                return
            keep_alive = request.keep_alive
            head_only = request.method == "HEAD"
            await write_response(writer, response, head_only=head_only, keep_alive=keep_alive)
            if not keep_alive:
                return
            request = await read_request(reader)

    async def _answer(self, request: Request, tls_host: str | None) -> Response:
        if tls_host is not None:
            # Inside a tunnel the Host header names the site; CONNECT's host is the fallback.
            host_header = request.headers.get("host")
            request.host = (
                urlsplit(f"//{host_header}").hostname if host_header else None
            ) or tls_host
            return await self._site.handle(request)
        if request.target.startswith(CONTROL_PREFIX):
            return await self._control.handle(request)
        url = urlsplit(request.target)
        if url.scheme == "http" and url.hostname:
            # A plain-http proxy request (absolute form): same sites, no TLS.
            request.host = url.hostname
            if is_emulated(url.hostname):
                return await self._site.handle(request)
            return self._site.refuse(request)
        return Response.text(404, f"not an emulated URL; the control API is under {CONTROL_PREFIX}")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Drop the connection with a TCP RST, as an overloaded middlebox would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
