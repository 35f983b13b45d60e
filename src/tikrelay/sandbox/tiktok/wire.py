"""Just enough HTTP/1.1 for the emulator: request heads, bodies with Content-Length, keep-alive,
and responses whose bodies are bytes or a slice of a file streamed in chunks, optionally paced to
a bandwidth."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
CHUNK = 256 * 1024


class BadRequestError(Exception):
    """The client sent something the emulator cannot parse; the connection is closed."""


@dataclass
class Request:
    method: str
    target: str  # as sent: origin form (/path?q), absolute form (http://h/p) or host:port
    version: str
    headers: dict[str, str]  # lower-case names; repeated headers joined
    body: bytes = b""
    host: str = ""  # the host the request is for (from CONNECT, the URL or Host)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    @property
    def cookies(self) -> dict[str, str]:
        jar: dict[str, str] = {}
        for part in self.headers.get("cookie", "").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                jar[name] = value
        return jar

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError as exc:
            raise BadRequestError(f"body is not JSON: {exc}") from exc


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    file: Path | None = None  # streamed instead of body: ``length`` bytes from ``offset``
    offset: int = 0
    length: int = 0
    reset: bool = False  # reset the connection instead of answering
    rate: int | None = None  # bytes a second for the body; None: as fast as the client reads

    @classmethod
    def json(cls, status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Response:
        body = json.dumps(data).encode()
        return cls(status, [("Content-Type", "application/json"), *(headers or [])], body)

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain") -> Response:
        return cls(status, [("Content-Type", f"{content_type}; charset=utf-8")], text.encode())


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on the connection, or None when the client closed it between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise BadRequestError("connection closed inside a request head") from exc
    except asyncio.LimitOverrunError as exc:
        raise BadRequestError("request head too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ")
    except ValueError as exc:
        raise BadRequestError(f"bad request line {lines[0]!r}") from exc
    headers: dict[str, str] = {}
    for line in filter(None, lines[1:]):
        name, _, value = line.partition(":")
        key, value = name.strip().lower(), value.strip()
        separator = "; " if key == "cookie" else ", "
        headers[key] = f"{headers[key]}{separator}{value}" if key in headers else value
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequestError("chunked request bodies are not supported")
    length = int(headers.get("content-length") or 0)
    if not 0 <= length <= MAX_BODY:
        raise BadRequestError("request body too large")
    body = await reader.readexactly(length) if length else b""
    return Request(method.upper(), target, version, headers, body)


async def write_response(
    writer: asyncio.StreamWriter, response: Response, *, head_only: bool, keep_alive: bool
) -> None:
    length = response.length if response.file is not None else len(response.body)
    lines = [f"HTTP/1.1 {response.status} {_reason(response.status)}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    lines += [f"Content-Length: {length}", f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if not head_only:
        pace = Pace(writer, response.rate) if response.rate else None
        if response.file is not None:
            await _stream_file(writer, response.file, response.offset, response.length, pace)
        elif pace is not None:
            await pace.write(response.body)
        else:
            writer.write(response.body)
    await writer.drain()


class Pace:
    """Writes one body at ``rate`` bytes a second, like a link of that bandwidth.

    Each slice leaves only once the link would have carried every byte up to its end, so the
    last byte goes out no sooner than size / rate after the head: a client can never finish
    early, however it buffers. The clock starts with the body, not before the head, because a
    slow link still answers at once and then trickles.
    """

    def __init__(self, writer: asyncio.StreamWriter, rate: int) -> None:
        if rate < 1:
            raise ValueError(f"a rate is at least 1 byte a second, not {rate}")
        self._writer = writer
        self._rate = rate
        # About twenty writes a second: smooth enough for any client, cheap for the loop.
        self._slice = max(1, min(CHUNK, rate // 20))
        self._started: float | None = None
        self._sent = 0

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        if self._started is None:
            self._started = loop.time()
        for start in range(0, len(data), self._slice):
            piece = data[start : start + self._slice]
            self._sent += len(piece)
            due = self._started + self._sent / self._rate
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            self._writer.write(piece)
            await self._writer.drain()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


async def _stream_file(
    writer: asyncio.StreamWriter, path: Path, offset: int, length: int, pace: Pace | None
) -> None:
    """Copy a file slice in chunks: large media never sits in memory whole."""
    with path.open("rb") as fh:
        fh.seek(offset)
        left = length
        while left > 0:
            chunk = await asyncio.to_thread(fh.read, min(CHUNK, left))
            if not chunk:
                raise BadRequestError(f"{path} shrank while being sent")
            if pace is not None:
                await pace.write(chunk)
            else:
                writer.write(chunk)
                await writer.drain()
            left -= len(chunk)
