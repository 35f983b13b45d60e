"""Where notifications go: the admins' Telegram chat, email through an SMTP server (aiosmtplib) and
any Apprise URL. Each channel sends one short message (a title and a text) or raises a classified
``TikrelayError``, whose message never holds the SMTP password, a bot token or an Apprise URL's
tokens: an Apprise URL is only ever shown in Apprise's own privacy form.

aiosmtplib and Apprise are imported on the first message: a run with nothing to say loads
neither."""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

from tikrelay.config.logging import REDACTED, redact_text
from tikrelay.config.notify_settings import EmailSettings, load_apprise
from tikrelay.destinations.target import ChatTarget
from tikrelay.domain.errors import ErrorKind, TikrelayError

if TYPE_CHECKING:
    from apprise import Apprise

    from tikrelay.destinations.telegram import TelegramSender

#: Telegram's limit on a text message, in characters.
TELEGRAM_TEXT_LIMIT = 4096
#: How long one SMTP conversation or one Apprise delivery may take.
SEND_SECONDS = 30.0


class Channel(Protocol):
    """One place notifications go."""

    @property
    def name(self) -> str: ...

    async def send(self, title: str, text: str) -> None: ...


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TelegramChannel:
    """A text message to a chat (the admins'), through the reposter's paced sender."""

    def __init__(self, sender: TelegramSender, chat_id: int | str) -> None:
        self._sender = sender
        self._target = ChatTarget(chat_id)

    @property
    def name(self) -> str:
        return f"telegram {self._target}"

    async def send(self, title: str, text: str) -> None:
        await self._sender.send_text(self._target, _cut(f"{title}\n\n{text}", TELEGRAM_TEXT_LIMIT))


class EmailChannel:
    """A plain-text email. ``smtp://`` starts in plain text and upgrades with STARTTLS when the
    server offers it; ``smtps://`` is TLS from the start. With a password, it logs in as the
    URL's user name, else as the from address; without one, it does not log in."""

    def __init__(
        self,
        settings: EmailSettings,
        password: str | None,
        *,
        tls_context: ssl.SSLContext | None = None,
        timeout: float = SEND_SECONDS,
    ) -> None:
        parts = urlsplit(settings.smtp_url)
        self.settings = settings
        self.host = parts.hostname or ""
        self.port = parts.port
        self.implicit_tls = parts.scheme == "smtps"
        # The from address alone, never its display name ("Relay <bot@example.org>").
        self.address = parseaddr(settings.from_)[1] or settings.from_
        self.username = unquote(parts.username) if parts.username else self.address
        self._password = password or None
        self._tls_context = tls_context
        self._timeout = timeout

    @property
    def name(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"email via {scheme}://{self.host}" + (f":{self.port}" if self.port else "")

    def message(self, title: str, text: str) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = f"tikrelay: {title}"
        message["From"] = self.settings.from_
        message["To"] = ", ".join(self.settings.to)
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.address.rpartition("@")[2] or None)
        message.set_content(text)
        return message

    async def send(self, title: str, text: str) -> None:
        import aiosmtplib

        try:
            await aiosmtplib.send(
                self.message(title, text),
                hostname=self.host,
                port=self.port,
                username=self.username if self._password else None,
                password=self._password,
                use_tls=self.implicit_tls,
                start_tls=False if self.implicit_tls else None,  # None: when offered
                tls_context=self._tls_context,
                cert_bundle=(
                    str(self.settings.ca_bundle)
                    if self.settings.ca_bundle and self._tls_context is None
                    else None
                ),
                timeout=self._timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise self._classified(exc) from None

    def _classified(self, exc: BaseException) -> TikrelayError:
        import aiosmtplib

        said = self._hidden(str(exc) or type(exc).__name__)
        where = self.name
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            return TikrelayError(
                ErrorKind.AUTH,
                f"{where} refused the login of {self.username} ({said}): check the user name "
                "and TIKRELAY_SMTP_PASSWORD",
                retryable=False,
            )
        if isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError):
            return TikrelayError(
                ErrorKind.NETWORK,
                f"{where}: TLS failed ({said}): check the server's certificate and the scheme "
                "(smtp:// for STARTTLS, smtps:// for TLS from the start)",
                retryable=False,
            )
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            # 4xx: the server asks to try later; 5xx: it refuses (an address, the sender).
            return TikrelayError(
                ErrorKind.HTTP,
                f"{where} answered {exc.code}: {self._hidden(exc.message)}",
                retryable=exc.code < 500,
            )
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            return TikrelayError(
                ErrorKind.HTTP, f"{where} refused every recipient: {said}", retryable=False
            )
        return TikrelayError(ErrorKind.NETWORK, f"{where}: {said}", retryable=True)

    def _hidden(self, text: str) -> str:
        if self._password:
            text = text.replace(self._password, REDACTED)
        return redact_text(text)


class AppriseChannel:
    """Any service Apprise knows, by its URL. The URL is a secret (it holds the service's
    tokens; for some services its host is one), so the channel is named by its place in
    ``notify.apprise`` and its scheme alone."""

    def __init__(self, url: str, *, index: int = 0, timeout: float = SEND_SECONDS) -> None:
        self._url = url
        self._index = index
        self._timeout = timeout
        self._apprise: Apprise | None = None

    @property
    def name(self) -> str:
        scheme = self._url.partition("://")[0] if "://" in self._url else "?"
        return f"apprise #{self._index + 1} ({scheme}://)"

    async def send(self, title: str, text: str) -> None:
        apprise = load_apprise()
        if self._apprise is None:
            found = apprise.Apprise()
            if not found.add(self._url):
                raise TikrelayError(
                    ErrorKind.UNSUPPORTED,
                    f"{self.name}: Apprise cannot use this URL: check notify.apprise",
                    retryable=False,
                )
            self._apprise = found
        result = await self._apprise.async_notify(body=text, title=title, timeout=self._timeout)
        if not result:
            # Apprise reports how, not why, in a form we could show safely: the service's own
            # answer stays in Apprise's log. A retry may well get through.
            raise TikrelayError(
                ErrorKind.NETWORK,
                f"{self.name} did not take the message ({result.status.name.lower()})",
                retryable=True,
            )
