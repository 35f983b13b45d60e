"""What the Content Posting API emulator holds: the app, accounts and their tokens, codes,
uploads with their chunks, what was posted, rate windows and planned failures. Every method
takes the lock: tests call them from their own thread while the server answers in its loop."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

MB = 1024 * 1024
ACCESS_LIFETIME = 24 * 3600
REFRESH_LIFETIME = 365 * 24 * 3600
UPLOAD_LIFETIME = 3600  # an upload URL is good for an hour
ALL_PRIVACY = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")

#: TikTok's documented error codes and the HTTP status each comes with.
ERROR_STATUS = {
    "invalid_params": 400,
    "privacy_level_option_mismatch": 400,
    "invalid_publish_id": 400,
    "access_token_invalid": 401,
    "scope_not_authorized": 401,
    "spam_risk_too_many_posts": 403,
    "spam_risk_user_banned_from_posting": 403,
    "spam_risk_too_many_pending_share": 403,
    "reached_active_user_cap": 403,
    "unaudited_client_can_only_post_to_private_accounts": 403,
    "url_ownership_unverified": 403,
    "rate_limit_exceeded": 429,
    "internal_error": 500,
}
#: Requests a minute per user token, per endpoint.
RATE_LIMITS = {"inbox_init": 6, "direct_init": 6, "status": 30, "creator_info": 20}


class ApiError(Exception):
    def __init__(self, code: str, message: str = "", status: int | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code
        self.status = status if status is not None else ERROR_STATUS.get(code, 400)


@dataclass
class Account:
    username: str
    open_id: str
    privacy_level_options: tuple[str, ...] = ALL_PRIVACY
    scopes: tuple[str, ...] = ("user.info.basic", "video.upload", "video.publish")


@dataclass
class Token:
    username: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass
class Published:
    """An upload TikTok accepted whole: a draft in the inbox, or a direct post."""

    publish_id: str
    username: str
    mode: str  # inbox | direct
    post_info: dict[str, object]
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def title(self) -> str:
        return str(self.post_info.get("title", ""))


@dataclass
class UploadState:
    publish_id: str
    upload_id: str
    username: str
    mode: str
    post_info: dict[str, object]
    video_size: int
    chunk_size: int
    total_chunk_count: int
    expires_at: float
    data: bytearray = field(default_factory=bytearray, repr=False)
    next_chunk: int = 0
    fetches_after_upload: int = 0
    failed: str | None = None  # fail_reason once FAILED
    ranges: list[str] = field(default_factory=list)  # Content-Range of every accepted chunk

    @property
    def complete(self) -> bool:
        return self.next_chunk == self.total_chunk_count

    def chunk_range(self, index: int) -> tuple[int, int]:
        first = index * self.chunk_size
        last = (
            self.video_size - 1
            if index == self.total_chunk_count - 1
            else first + self.chunk_size - 1
        )
        return first, last


def check_source(size: int, chunk: int, count: int) -> str | None:
    """The Media Transfer Guide's chunk rules, as TikTok checks them at init."""
    if size <= 0 or chunk <= 0 or count <= 0:
        return "video_size, chunk_size and total_chunk_count must be positive"
    if size < 5 * MB:
        return None if chunk == size and count == 1 else "a video under 5 MB is one whole chunk"
    if not 5 * MB <= chunk <= 64 * MB:
        return "chunk_size must be between 5 MB and 64 MB"
    if count != size // chunk or count > 1000:
        return "total_chunk_count must be video_size / chunk_size rounded down (1000 at most)"
    if size > 64 * MB and count < 2:
        return "a video over 64 MB must be sent in several chunks"
    if size - (count - 1) * chunk > 128 * MB:
        return "the last chunk may hold 128 MB at most"
    return None


class PostingState:
    """The emulator's world; ``clock`` gives seconds (``advance`` moves it forward)."""

    def __init__(
        self, client_key: str, client_secret: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.client_key = client_key
        self.client_secret = client_secret
        self._clock = clock
        self.offset = 0.0
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, Token] = {}  # access tokens
        self.refresh_tokens: dict[str, Token] = {}
        self.codes: dict[str, tuple[str, str, str | None, tuple[str, ...]]] = {}
        self.uploads: dict[str, UploadState] = {}  # by publish_id
        self.published: list[Published] = []
        self.audited = True
        self.access_lifetime = ACCESS_LIFETIME
        self.refresh_lifetime = REFRESH_LIFETIME
        self.processing_fetches = 2  # status answers before the final one, after the upload
        self.report_uploaded_bytes = True  # False: status answers leave uploaded_bytes out
        self.planned: dict[str, deque[ApiError]] = {}
        self.fail_processing: str | None = None
        self.windows: dict[tuple[str, str], deque[float]] = {}
        self.refreshes = 0
        self.issued: list[str] = []  # every token handed out, for tests that look for leaks

    def now(self) -> float:
        return self._clock() + self.offset

    def add_account(
        self, username: str, privacy_level_options: tuple[str, ...] = ALL_PRIVACY
    ) -> Account:
        with self.lock:
            account = Account(username, f"open-{secrets.token_hex(8)}", privacy_level_options)
            self.accounts[username] = account
            return account

    def issue_code(
        self, username: str, redirect_uri: str, challenge: str | None, scopes: tuple[str, ...]
    ) -> str:
        with self.lock:
            if username not in self.accounts:
                raise KeyError(username)
            code = secrets.token_urlsafe(24)
            self.codes[code] = (username, redirect_uri, challenge, scopes)
            return code

    def redeem_code(self, code: str, redirect_uri: str, verifier: str | None) -> Token:
        with self.lock:
            found = self.codes.pop(code, None)
            if found is None:
                raise ApiError("invalid_grant", "Authorization code is expired or invalid.")
            username, wanted_uri, challenge, scopes = found
            if redirect_uri != wanted_uri:
                raise ApiError("invalid_request", "redirect_uri does not match.")
            if challenge is not None:
                given = hashlib.sha256((verifier or "").encode()).hexdigest()
                if given != challenge:
                    raise ApiError("invalid_request", "Code verifier or code challenge is invalid.")
            return Token(username, scopes, 0)

    def new_tokens(self, grant: Token) -> tuple[str, str]:
        with self.lock:
            now = self.now()
            access = f"act.{secrets.token_urlsafe(32)}"
            refresh = f"rft.{secrets.token_urlsafe(32)}"
            self.issued += [access, refresh]
            self.tokens[access] = Token(grant.username, grant.scopes, now + self.access_lifetime)
            self.refresh_tokens[refresh] = Token(
                grant.username, grant.scopes, now + self.refresh_lifetime
            )
            return access, refresh

    def refresh(self, refresh_token: str) -> Token:
        """The grant of a valid refresh token; it is used up (TikTok may rotate it)."""
        with self.lock:
            found = self.refresh_tokens.pop(refresh_token, None)
            if found is None or found.expires_at <= self.now():
                raise ApiError("invalid_grant", "Refresh token is invalid or expired.")
            self.refreshes += 1
            for access, token in list(self.tokens.items()):
                if token.username == found.username:
                    del self.tokens[access]
            return found

    def expire_access_tokens(self, username: str | None = None) -> None:
        """Every access token (of ``username``) expires now: the next call is refused."""
        with self.lock:
            for token in self.tokens.values():
                if username is None or token.username == username:
                    token.expires_at = self.now() - 1

    def bearer(self, header: str | None, scope: str) -> Account:
        with self.lock:
            token = (header or "").removeprefix("Bearer ").strip()
            found = self.tokens.get(token)
            if found is None or found.expires_at <= self.now():
                raise ApiError(
                    "access_token_invalid",
                    "The access token is invalid or not found in the request.",
                )
            if scope not in found.scopes:
                raise ApiError("scope_not_authorized", f"The user did not authorize {scope}.")
            return self.accounts[found.username]

    def limit(self, header: str | None, endpoint: str) -> None:
        with self.lock:
            token = (header or "").removeprefix("Bearer ").strip()
            window = self.windows.setdefault((token, endpoint), deque())
            now = self.now()
            while window and now - window[0] >= 60:
                window.popleft()
            if len(window) >= RATE_LIMITS[endpoint]:
                raise ApiError("rate_limit_exceeded", "Too many requests for this token.")
            window.append(now)

    def plan(self, endpoint: str, code: str, times: int = 1, message: str = "") -> None:
        with self.lock:
            queue = self.planned.setdefault(endpoint, deque())
            queue.extend(ApiError(code, message) for _ in range(times))

    def planned_error(self, endpoint: str) -> ApiError | None:
        with self.lock:
            queue = self.planned.get(endpoint)
            return queue.popleft() if queue else None

    def start_upload(
        self, account: Account, mode: str, post_info: dict[str, object], source: dict[str, object]
    ) -> UploadState:
        if source.get("source") != "FILE_UPLOAD":
            raise ApiError("invalid_params", "source must be FILE_UPLOAD here.")
        try:
            size = int(source["video_size"])  # type: ignore[call-overload]
            chunk = int(source["chunk_size"])  # type: ignore[call-overload]
            count = int(source["total_chunk_count"])  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError):
            raise ApiError("invalid_params", "source_info needs its three sizes.") from None
        problem = check_source(size, chunk, count)
        if problem is not None:
            raise ApiError("invalid_params", problem)
        with self.lock:
            upload = UploadState(
                publish_id=f"v_{mode}_file~v2.{secrets.token_hex(8)}",
                upload_id=secrets.token_hex(12),
                username=account.username,
                mode=mode,
                post_info=post_info,
                video_size=size,
                chunk_size=chunk,
                total_chunk_count=count,
                expires_at=self.now() + UPLOAD_LIFETIME,
            )
            self.uploads[upload.publish_id] = upload
            return upload

    def by_upload_id(self, upload_id: str) -> UploadState | None:
        with self.lock:
            return next((u for u in self.uploads.values() if u.upload_id == upload_id), None)

    def accept_chunk(self, upload: UploadState, content_range: str, data: bytes) -> None:
        with self.lock:
            upload.data += data
            upload.ranges.append(content_range)
            upload.next_chunk += 1
            if upload.complete:
                if self.fail_processing is not None:
                    upload.failed, self.fail_processing = self.fail_processing, None
                else:
                    self.published.append(
                        Published(
                            upload.publish_id,
                            upload.username,
                            upload.mode,
                            upload.post_info,
                            bytes(upload.data),
                        )
                    )

    def status_of(self, upload: UploadState) -> dict[str, object]:
        with self.lock:
            answer: dict[str, object] = {}
            if self.report_uploaded_bytes:
                answer["uploaded_bytes"] = len(upload.data)
            if not upload.complete:
                answer["status"] = "PROCESSING_UPLOAD"
                return answer
            step = upload.fetches_after_upload
            upload.fetches_after_upload += 1
            if step < self.processing_fetches:
                answer["status"] = ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD")[min(step, 1)]
            elif upload.failed is not None:
                answer["status"] = "FAILED"
                answer["fail_reason"] = upload.failed
            elif upload.mode == "inbox":
                answer["status"] = "SEND_TO_USER_INBOX"
            else:
                answer["status"] = "PUBLISH_COMPLETE"
                answer["publicaly_available_post_id"] = [int(secrets.randbits(60))]
            return answer
