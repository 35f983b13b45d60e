"""A plain HTTP server on 127.0.0.1 that records every request and answers with a JPEG: the
"internal service" that SSRF tests must never reach."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class RecordingServer:
    def __init__(self, body: bytes) -> None:
        self.hits: list[str] = []
        self._body = body
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(recorder._body)))
                self.end_headers()
                self.wfile.write(recorder._body)

            do_HEAD = do_GET  # noqa: N815 (http.server dispatches on this name)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]

    def url(self, path: str = "/secret.jpg", *, scheme: str = "http", host: str = "") -> str:
        return f"{scheme}://{host or '127.0.0.1'}:{self.port}{path}"


@contextmanager
def recording_server(jpeg: Path) -> Iterator[RecordingServer]:
    server = RecordingServer(jpeg.read_bytes())
    thread = threading.Thread(target=server._server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server._server.shutdown()
        server._server.server_close()
        thread.join()
