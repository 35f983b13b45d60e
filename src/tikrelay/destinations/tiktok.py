"""TikTok's Content Posting API, as its reference documents it: creator info, an upload to the
inbox (a draft the account's owner finishes in the app) or a direct post, the video sent in
chunks by FILE_UPLOAD (``tiktok_chunks``), and the publish status polled until TikTok is done.

Each user token may initialize 6 uploads and fetch 30 statuses a minute; the client keeps to
that itself within a process, and an HTTP 429 from TikTok (another process, another app) is a
retryable rate-limit error. Every error TikTok documents (``error.code``) is classified here,
once: an ``access_token_invalid`` renews the token and tries again, once.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from tikrelay.destinations.tiktok_chunks import ChunkPlan
from tikrelay.domain.errors import ErrorKind, TikrelayError

CREATOR_INFO = "/v2/post/publish/creator_info/query/"
INBOX_INIT = "/v2/post/publish/inbox/video/init/"
DIRECT_INIT = "/v2/post/publish/video/init/"
STATUS_FETCH = "/v2/post/publish/status/fetch/"
#: Requests a minute per user token, as TikTok documents them.
RATE_LIMITS = {INBOX_INIT: 6, DIRECT_INIT: 6, STATUS_FETCH: 30, CREATOR_INFO: 20}
TITLE_LIMIT = 2200  # a direct post's title (the caption), in UTF-16 code units
#: How long TikTok may take to process an upload before the job gives up (and retries).
PROCESSING_TIMEOUT = 15 * 60.0
_TIMEOUT = httpx.Timeout(60.0, connect=15.0)

SEND_TO_USER_INBOX = "SEND_TO_USER_INBOX"
PUBLISH_COMPLETE = "PUBLISH_COMPLETE"
FAILED = "FAILED"
PROCESSING_UPLOAD = "PROCESSING_UPLOAD"

#: TikTok's error codes: (kind, retryable, what to do). Unlisted codes follow the HTTP status.
_CODES: dict[str, tuple[ErrorKind, bool, str]] = {
    "access_token_invalid": (
        ErrorKind.AUTH,
        False,
        "the account's access token is not valid: run tikrelay tiktok-auth again",
    ),
    "scope_not_authorized": (
        ErrorKind.AUTH,
        False,
        "the account did not grant video.upload/video.publish: run tikrelay tiktok-auth again",
    ),
    "rate_limit_exceeded": (ErrorKind.RATE_LIMIT, True, "TikTok's rate limit: later"),
    "spam_risk_too_many_posts": (
        ErrorKind.RATE_LIMIT,
        True,
        "the account reached TikTok's daily post cap: later",
    ),
    "spam_risk_too_many_pending_share": (
        ErrorKind.RATE_LIMIT,
        True,
        "the account has too many drafts waiting in its inbox: post or delete some",
    ),
    "spam_risk_user_banned_from_posting": (
        ErrorKind.AUTH,
        False,
        "TikTok does not let this account post (banned from posting)",
    ),
    "reached_active_user_cap": (
        ErrorKind.RATE_LIMIT,
        True,
        "the app reached its daily quota of posting users: later",
    ),
    "unaudited_client_can_only_post_to_private_accounts": (
        ErrorKind.AUTH,
        False,
        "an unaudited TikTok app may only post privately: set privacy_level: SELF_ONLY on "
        "this destination (or use mode: inbox) until TikTok has audited the app",
    ),
    "url_ownership_unverified": (
        ErrorKind.AUTH,
        False,
        "TikTok wants the media host's ownership verified",
    ),
    "privacy_level_option_mismatch": (
        ErrorKind.HTTP,
        False,
        "the privacy level is not one this account offers",
    ),
    "invalid_params": (ErrorKind.HTTP, False, "TikTok refused the request's parameters"),
    "invalid_publish_id": (ErrorKind.HTTP, False, "TikTok does not know that publish id"),
    "internal_error": (ErrorKind.HTTP, True, "TikTok had an internal error"),
}
#: Waits when TikTok says "later" without a Retry-After header.
_LATER = {
    "rate_limit_exceeded": 60.0,
    "spam_risk_too_many_posts": 3600.0,
    "spam_risk_too_many_pending_share": 3600.0,
    "reached_active_user_cap": 3600.0,
}


class TikTokApiError(TikrelayError):
    """An answer of TikTok's API with an ``error.code`` other than ``ok``."""

    def __init__(self, code: str, kind: ErrorKind, message: str, **extra: Any) -> None:
        super().__init__(kind, message, **extra)
        self.code = code


class UploadUrlGoneError(TikrelayError):
    """The upload URL no longer takes chunks (HTTP 403 or 404: it expired, an hour after the
    upload's initialization): that upload can never be whole, so it can never be posted, and
    only a new initialization goes on."""


def api_error(status: int, body: dict[str, Any], retry_after: str | None = None) -> TikrelayError:
    """The error of one answer, classified by TikTok's ``error.code`` (then by the status)."""
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    assert isinstance(error, dict)
    code = str(error.get("code") or "")
    said = str(error.get("message") or "")[:300]
    known = _CODES.get(code)
    if known is not None:
        kind, retryable, text = known
    elif status == 429:
        kind, retryable, text = ErrorKind.RATE_LIMIT, True, "TikTok's rate limit: later"
    elif status in (401, 403):
        kind, retryable, text = ErrorKind.AUTH, False, "TikTok refused the account's request"
    elif status >= 500:
        kind, retryable, text = ErrorKind.HTTP, True, "TikTok's server failed"
    else:
        kind, retryable, text = ErrorKind.HTTP, False, "TikTok refused the request"
    wait = _seconds(retry_after)
    if wait is None and kind is ErrorKind.RATE_LIMIT:
        wait = _LATER.get(code, 60.0)
    detail = f" ({said})" if said and said not in text else ""
    return TikTokApiError(
        code or f"http_{status}",
        kind,
        f"{text} [{code or f'HTTP {status}'}]{detail}",
        retry_after=wait,
        retryable=retryable,
        http_status=status,
    )


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class Credentials(Protocol):
    """An account's access token, renewed when TikTok says it is no longer valid."""

    account: str

    async def token(self) -> str: ...

    async def renew(self, stale: str) -> str: ...


@dataclass(frozen=True)
class CreatorInfo:
    username: str
    privacy_level_options: tuple[str, ...]
    max_video_post_duration_sec: int | None
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool


@dataclass(frozen=True)
class Upload:
    publish_id: str
    upload_url: str


@dataclass(frozen=True)
class PublishStatus:
    status: str
    fail_reason: str | None
    uploaded_bytes: int | None


class _Window:
    """At most ``limit`` calls in any 60 seconds, per account, in this process."""

    def __init__(self, limit: int, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.clock = clock
        self.calls: dict[str, deque[float]] = {}

    def wait(self, account: str) -> float:
        now = self.clock()
        calls = self.calls.setdefault(account, deque())
        while calls and now - calls[0] >= 60.0:
            calls.popleft()
        if len(calls) < self.limit:
            calls.append(now)
            return 0.0
        return 60.0 - (now - calls[0])


class TikTokClient:
    """The Content Posting API at ``api_url`` (TikTok's, or an emulator's), over ``http``."""

    def __init__(
        self,
        api_url: str,
        http: httpx.AsyncClient,
        *,
        status_interval: float = 60.0 / RATE_LIMITS[STATUS_FETCH],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.http = http
        self.status_interval = status_interval
        self.clock = clock
        self.sleep = sleep
        self._windows = {path: _Window(limit, clock) for path, limit in RATE_LIMITS.items()}

    async def creator_info(self, creds: Credentials) -> CreatorInfo:
        data = await self._call(creds, CREATOR_INFO, None)
        options = data.get("privacy_level_options") or []
        duration = data.get("max_video_post_duration_sec")
        return CreatorInfo(
            username=str(data.get("creator_username") or ""),
            privacy_level_options=tuple(str(o) for o in options),
            max_video_post_duration_sec=int(duration) if duration is not None else None,
            comment_disabled=bool(data.get("comment_disabled")),
            duet_disabled=bool(data.get("duet_disabled")),
            stitch_disabled=bool(data.get("stitch_disabled")),
        )

    async def init_inbox(self, creds: Credentials, plan: ChunkPlan) -> Upload:
        """A draft for the account's inbox, its upload to be sent."""
        return _upload(await self._call(creds, INBOX_INIT, {"source_info": _source(plan)}))

    async def init_direct(
        self, creds: Credentials, plan: ChunkPlan, post_info: dict[str, Any]
    ) -> Upload:
        """A direct post with ``post_info`` (title, privacy_level…), its upload to be sent."""
        body = {"post_info": post_info, "source_info": _source(plan)}
        return _upload(await self._call(creds, DIRECT_INIT, body))

    async def put_chunk(self, upload_url: str, plan: ChunkPlan, index: int, video: Path) -> int:
        """Chunk ``index`` of ``video`` to the upload URL; TikTok's status: 206 while chunks
        remain, 201 once the video is whole."""
        chunk = plan.chunk(index)
        data = await asyncio.to_thread(_read, video, chunk.first, chunk.size)
        headers = {
            "Content-Type": "video/mp4",
            "Content-Length": str(chunk.size),
            "Content-Range": plan.content_range(index),
        }
        try:
            response = await self.http.put(
                upload_url, content=data, headers=headers, timeout=_TIMEOUT
            )
        except httpx.TimeoutException:
            raise TikrelayError(ErrorKind.TIMEOUT, f"chunk {index} upload timed out") from None
        except httpx.HTTPError as exc:
            raise TikrelayError(
                ErrorKind.NETWORK, f"chunk {index} upload: {type(exc).__name__}"
            ) from None
        if response.status_code in (200, 201, 206):
            return response.status_code
        if response.status_code in (403, 404):
            raise UploadUrlGoneError(
                ErrorKind.HTTP,
                f"the upload URL is no longer valid (HTTP {response.status_code})",
                http_status=response.status_code,
                retryable=True,
            )
        raise TikrelayError(
            ErrorKind.HTTP,
            f"TikTok refused chunk {index} (HTTP {response.status_code})",
            http_status=response.status_code,
            retryable=response.status_code >= 500,
        )

    async def send_chunks(
        self,
        upload_url: str,
        plan: ChunkPlan,
        video: Path,
        *,
        start: int = 0,
        on_chunk: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        """Chunks ``start`` onwards, in order; ``on_chunk(n)`` after each is accepted, ``n``
        being the next one to send (so a crash resumes there)."""
        for index in range(start, plan.total_chunk_count):
            status = await self.put_chunk(upload_url, plan, index, video)
            last = index == plan.total_chunk_count - 1
            if last != (status == 201) and status != 200:
                raise TikrelayError(
                    ErrorKind.HTTP,
                    f"TikTok answered chunk {index} of {plan.total_chunk_count} with HTTP {status}",
                    http_status=status,
                )
            if on_chunk is not None:
                await on_chunk(index + 1)

    async def status(self, creds: Credentials, publish_id: str) -> PublishStatus:
        data = await self._call(creds, STATUS_FETCH, {"publish_id": publish_id})
        uploaded = data.get("uploaded_bytes")
        reason = data.get("fail_reason")
        return PublishStatus(
            status=str(data.get("status") or ""),
            fail_reason=str(reason) if reason else None,
            uploaded_bytes=int(uploaded) if uploaded is not None else None,
        )

    async def wait_done(self, creds: Credentials, publish_id: str) -> PublishStatus:
        """The status once TikTok is done processing: in the inbox, posted, or FAILED."""
        deadline = self.clock() + PROCESSING_TIMEOUT
        while True:
            found = await self.status(creds, publish_id)
            if found.status in (SEND_TO_USER_INBOX, PUBLISH_COMPLETE, FAILED):
                return found
            if self.clock() > deadline:
                raise TikrelayError(
                    ErrorKind.TIMEOUT,
                    f"TikTok still processes the upload ({found.status}) after "
                    f"{PROCESSING_TIMEOUT / 60:.0f} minutes",
                )
            await self.sleep(self.status_interval)

    async def _call(
        self, creds: Credentials, path: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        token = await creds.token()
        try:
            return await self._post(creds.account, path, token, body)
        except TikTokApiError as exc:
            if exc.code != "access_token_invalid":
                raise
        token = await creds.renew(token)  # TikTok no longer takes it: renewed, tried once more
        return await self._post(creds.account, path, token, body)

    async def _post(
        self, account: str, path: str, token: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        wait = self._windows[path].wait(account)
        while wait > 0:
            await self.sleep(wait)
            wait = self._windows[path].wait(account)
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json; charset=UTF-8",
        }
        try:
            response = await self.http.post(
                self.api_url + path,
                json=body if body is not None else {},
                headers=headers,
                timeout=_TIMEOUT,
            )
        except httpx.TimeoutException:
            raise TikrelayError(ErrorKind.TIMEOUT, f"TikTok's {path} timed out") from None
        except httpx.HTTPError as exc:
            raise TikrelayError(
                ErrorKind.NETWORK, f"TikTok's {path}: {type(exc).__name__}"
            ) from None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        error = answer.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        if response.status_code != 200 or (code not in (None, "", "ok")):
            raise api_error(response.status_code, answer, response.headers.get("Retry-After"))
        data = answer.get("data")
        return data if isinstance(data, dict) else {}


def _source(plan: ChunkPlan) -> dict[str, Any]:
    return {
        "source": "FILE_UPLOAD",
        "video_size": plan.video_size,
        "chunk_size": plan.chunk_size,
        "total_chunk_count": plan.total_chunk_count,
    }


def _upload(data: dict[str, Any]) -> Upload:
    publish_id, url = data.get("publish_id"), data.get("upload_url")
    if not publish_id or not url:
        raise TikrelayError(ErrorKind.HTTP, "TikTok's init answer has no publish_id or upload_url")
    return Upload(str(publish_id), str(url))


def _read(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read(size)
    if len(data) != size:
        raise TikrelayError(
            ErrorKind.UNKNOWN, f"{path.name} is shorter than when its upload began", retryable=True
        )
    return data
