"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it received: plain, STARTTLS or TLS
from the start, with a login checked against one user name and password."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool  # the conversation was encrypted when the message came
    login: str | None  # who logged in, if anyone


@dataclass
class SmtpServer:
    port: int
    ca: trustme.CA | None
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (user, accepted)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this server's certificate."""
        assert self.ca is not None
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{len(self.received)} of {count} messages arrived")
            return list(self.received)

    # -- aiosmtpd's hooks ------------------------------------------------------------------

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        data = session.auth_data if session.authenticated else None
        login = data.login.decode() if isinstance(data, LoginPassword) else None
        tls = server.transport.get_extra_info("ssl_object") is not None
        found = Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, tls, login)
        with self._arrived:
            self.received.append(found)
            self._arrived.notify_all()
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def smtp_server(
    mode: str = "plain", *, user: str | None = None, password: str | None = None
) -> Iterator[SmtpServer]:
    """``mode``: ``plain`` (no TLS offered), ``starttls`` (offered and required before a login)
    or ``tls`` (TLS from the start). With ``user`` and ``password`` a login is required."""
    ca = trustme.CA() if mode != "plain" else None
    server_context = None
    if ca is not None:
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    server = SmtpServer(free_port(), ca)

    def authenticate(
        _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == user
            and data.password.decode() == password
        )
        name = data.login.decode() if isinstance(data, LoginPassword) else "?"
        server.logins.append((name, ok))
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    options: dict[str, Any] = {}
    if user is not None:
        # aiosmtpd counts only STARTTLS as TLS: with TLS from the start it would refuse AUTH,
        # so there the login is offered, not required (the tests check who logged in).
        tls_first = mode == "tls"
        options.update(
            authenticator=authenticate, auth_required=not tls_first, auth_require_tls=not tls_first
        )
    if mode == "starttls":
        options.update(tls_context=server_context, require_starttls=True)
    controller = Controller(
        server,
        hostname="127.0.0.1",
        port=server.port,
        ssl_context=server_context if mode == "tls" else None,
        **options,
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
