"""Webhooks: setWebhook, getWebhookInfo, deleteWebhook, and the deliveries.

While a webhook is set, each waiting update is POSTed to it as JSON, oldest first and one at a
time (``X-Telegram-Bot-Api-Secret-Token`` carries the secret given to setWebhook). A 2xx answer
takes the update off the queue; any other answer, or none (connection refused, 10 s without an
answer), keeps it and it is posted again after a short backoff (0.05 s, doubling up to 1 s), as
Telegram re-sends. getUpdates is refused with 409 meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tikrelay.sandbox.telegram.errors import bad_request
from tikrelay.sandbox.telegram.updates import UpdateQueue

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
#: The ports Telegram posts to (a local Bot API server, and this emulator for a loopback host,
#: take any port and plain http).
PORTS = (443, 80, 88, 8443)
WRONG_PORT = "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
FIRST_PAUSE = 0.05
MAX_PAUSE = 1.0
ANSWER_SECONDS = 10.0


@dataclass
class Webhook:
    """What setWebhook was given."""

    url: str
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    max_connections: int = 40

    def wants(self, update: dict[str, Any]) -> bool:
        if not self.allowed_updates:
            return True
        return any(kind in update for kind in self.allowed_updates)


@dataclass
class Delivery:
    """One POST of an update to the webhook: its HTTP status, or why there was none."""

    update_id: int
    status: int | None
    error: str | None = None
    lost: bool = False  # answered 2xx, but planned as lost: the update is posted again

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WebhookDelivery:
    """The webhook that is set, if any, and the task posting updates to it."""

    queue: UpdateQueue
    webhook: Webhook | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    _deliveries: list[Delivery] = field(default_factory=list)
    _lose: list[int] = field(default_factory=list)  # planned: the n-th 2xx from now is lost
    _answered: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _task: asyncio.Task[None] | None = None

    # -- the methods -------------------------------------------------------------------------

    def set(self, webhook: Webhook) -> None:
        """setWebhook: start posting updates to it; allowed_updates not given keeps the old."""
        if webhook.allowed_updates is None and self.webhook is not None:
            webhook.allowed_updates = self.webhook.allowed_updates
        self.webhook = webhook
        self.last_error_date = self.last_error_message = None
        self.queue.webhook_active = True
        self.queue.wake()  # a poll that waits now ends with 409
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._deliver())

    async def delete(self, *, drop_pending: bool) -> None:
        """deleteWebhook: stop posting; the updates not taken wait for getUpdates."""
        self.webhook = None
        self.last_error_date = self.last_error_message = None
        self.queue.webhook_active = False
        await self.stop()
        if drop_pending:
            self.queue.drop()

    def info(self) -> dict[str, Any]:
        """getWebhookInfo's WebhookInfo."""
        hook = self.webhook
        found: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.queue.pending()),
        }
        if hook is None:
            return found
        found["max_connections"] = hook.max_connections
        if hook.allowed_updates:
            found["allowed_updates"] = list(hook.allowed_updates)
        if self.last_error_date is not None:
            found["last_error_date"] = self.last_error_date
            found["last_error_message"] = self.last_error_message
        return found

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- faults and the record ---------------------------------------------------------------

    def lose_answer(self, nth: int = 1) -> None:
        """The ``nth`` 2xx answer from now is taken as lost: the update is posted again."""
        with self._lock:
            self._lose.append(self._answered + nth)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    # -- posting -----------------------------------------------------------------------------

    async def _deliver(self) -> None:
        pause = FIRST_PAUSE
        timeout = aiohttp.ClientTimeout(total=ANSWER_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                update = await self.queue.first()
                hook = self.webhook
                if hook is None:
                    return
                if not hook.wants(update):
                    self.queue.confirm(update["update_id"])
                    continue
                delivery = await _post(session, hook, update)
                if delivery.status is not None and 200 <= delivery.status < 300:
                    delivery.lost = self._take_lost()
                with self._lock:
                    self._deliveries.append(delivery)
                if delivery.error is None and not delivery.lost:
                    self.queue.confirm(update["update_id"])
                    pause = FIRST_PAUSE
                    continue
                if delivery.error is not None:
                    self.last_error_date = int(time.time())
                    self.last_error_message = delivery.error
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE)

    def _take_lost(self) -> bool:
        with self._lock:
            self._answered += 1
            if self._answered in self._lose:
                self._lose.remove(self._answered)
                return True
        return False


async def _post(session: aiohttp.ClientSession, hook: Webhook, update: dict[str, Any]) -> Delivery:
    headers = {"Content-Type": "application/json"}
    if hook.secret_token:
        headers[SECRET_HEADER] = hook.secret_token
    update_id = int(update["update_id"])
    try:
        async with session.post(
            hook.url, data=json.dumps(update), headers=headers, allow_redirects=False
        ) as response:
            await response.read()
    except TimeoutError:
        return Delivery(update_id, None, "Read timeout expired")
    except aiohttp.ClientConnectorError:
        return Delivery(update_id, None, "Connection refused")
    except (aiohttp.ClientError, OSError) as exc:
        return Delivery(update_id, None, f"Connection failed: {type(exc).__name__}")
    if 200 <= response.status < 300:
        return Delivery(update_id, response.status)
    said = f"Wrong response from the webhook: {response.status} {response.reason or ''}".strip()
    return Delivery(update_id, response.status, said)


def check_webhook(url: str, secret_token: str | None) -> None:
    """Refuse as Telegram does: https on its four ports (plain http and any port for a loopback
    host, as a local Bot API server takes), a secret of 1-256 of A-Z a-z 0-9 _ -."""
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise bad_request(WRONG_PORT) from None
    if parts.scheme not in ("http", "https") or not host:
        raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
    if not _loopback(host):
        if parts.scheme != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if port is not None and port not in PORTS:
            raise bad_request(WRONG_PORT)
    if secret_token is not None and not _SECRET.fullmatch(secret_token):
        raise bad_request("secret token contains unallowed characters")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
