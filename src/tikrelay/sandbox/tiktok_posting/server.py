"""``TikTokPostingEmulator``: TikTok's Content Posting API and its OAuth on 127.0.0.1, following
the public documentation: the authorization page (it redirects at once with a code and the
state, as if the account's owner had agreed), ``/v2/oauth/token/`` (both grants),
``creator_info``, both init endpoints, the upload URL taking chunks by the Media Transfer Guide's
rules (in order, ``Content-Range`` exact: 400 for a malformed request, 416 for a range that is not
the next one, 403 once the URL expired, 404 for an unknown one), and ``status/fetch``.

Tests steer it from Python: accounts and their privacy options, token lifetimes and a clock
(``state.offset``), tokens expired at once, planned errors per endpoint (``fail_next``), an
unaudited app, a failed processing, and ``hold_chunk``: a chunk's request is taken in and held
unanswered until ``release()``, so a test can kill the uploader there (``hold_reply``: the chunk
is accepted first, then its answer held: TikTok has it, the uploader never hears so).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from aiohttp import web

from tikrelay.sandbox.background import Served
from tikrelay.sandbox.tiktok_posting.state import (
    Account,
    ApiError,
    PostingState,
    Published,
    UploadState,
)

CLIENT_KEY = "sandboxclientkey"
CLIENT_SECRET = "sandbox-client-secret-not-a-secret"  # noqa: S105 - the emulator's own
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
_PRIVACY = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")


class TikTokPostingEmulator(Served):
    thread_name = "tiktok-posting-emulator"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        client_key: str = CLIENT_KEY,
        client_secret: str = CLIENT_SECRET,
    ) -> None:
        self._host, self._port = host, port
        self.state = PostingState(client_key, client_secret)
        #: Who the authorization page signs in as (the first account added, by default).
        self.signed_in: str | None = None
        self.hold_chunk: int | None = None
        self.hold_reply: int | None = None  # a chunk accepted, its answer held
        self.held = threading.Event()  # set once the held chunk's request arrived
        self._released = threading.Event()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator is not running")
        return self._url

    @property
    def auth_url(self) -> str:
        return f"{self.url}/v2/auth/authorize/"

    # -- what tests steer and read ------------------------------------------------------------

    def add_account(
        self, username: str, privacy_level_options: tuple[str, ...] = _PRIVACY
    ) -> Account:
        account = self.state.add_account(username, privacy_level_options)
        if self.signed_in is None:
            self.signed_in = username
        return account

    def fail_next(self, endpoint: str, code: str, times: int = 1, message: str = "") -> None:
        """The next ``times`` requests to ``endpoint`` (``creator_info``, ``inbox_init``,
        ``direct_init``, ``status``, ``token``) answer TikTok's error ``code``."""
        self.state.plan(endpoint, code, times, message)

    def release(self) -> None:
        """Let a held chunk go on (its request is answered, if its client is still there)."""
        self._released.set()

    @property
    def published(self) -> list[Published]:
        with self.state.lock:
            return list(self.state.published)

    def upload(self, publish_id: str) -> UploadState:
        with self.state.lock:
            return self.state.uploads[publish_id]

    @property
    def uploads(self) -> list[UploadState]:
        with self.state.lock:
            return list(self.state.uploads.values())

    # -- serving ------------------------------------------------------------------------------

    async def start(self) -> TikTokPostingEmulator:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.middlewares.append(self._record)
        app.router.add_get("/v2/auth/authorize/", self._authorize)
        app.router.add_post("/v2/oauth/token/", self._token)
        app.router.add_post("/v2/post/publish/creator_info/query/", self._creator_info)
        app.router.add_post("/v2/post/publish/inbox/video/init/", self._inbox_init)
        app.router.add_post("/v2/post/publish/video/init/", self._direct_init)
        app.router.add_post("/v2/post/publish/status/fetch/", self._status)
        app.router.add_put("/upload/", self._put)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._url = f"http://{self._host}:{self._port}"
        return self

    async def stop(self) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._url = None

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except ApiError as exc:
            body = {
                "data": {},
                "error": {"code": exc.code, "message": exc.message, "log_id": _log_id()},
            }
            return web.json_response(body, status=exc.status)

    async def _authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_key") != self.state.client_key:
            return web.Response(status=400, text="client_key: unknown app")
        if q.get("response_type") != "code":
            return web.Response(status=400, text="response_type must be code")
        redirect = q.get("redirect_uri", "")
        host = urlsplit(redirect).hostname
        if host not in ("127.0.0.1", "localhost") or urlsplit(redirect).port is None:
            return web.Response(status=400, text="redirect_uri: localhost with a port only")
        challenge = q.get("code_challenge")
        if challenge is not None and q.get("code_challenge_method") != "S256":
            return web.Response(status=400, text="code_challenge_method must be S256")
        scopes = tuple(s for s in q.get("scope", "").split(",") if s)
        state = q.get("state", "")
        if self.signed_in is None:
            return web.Response(status=400, text="nobody is signed in to the emulated TikTok")
        code = self.state.issue_code(self.signed_in, redirect, challenge, scopes)
        back = urlencode({"code": code, "scopes": ",".join(scopes), "state": state})
        raise web.HTTPFound(f"{redirect}{'&' if '?' in redirect else '?'}{back}")

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: v[0] for k, v in parse_qs((await request.read()).decode()).items()}
        planned = self.state.planned_error("token")
        try:
            if planned is not None:
                raise planned
            if (
                form.get("client_key") != self.state.client_key
                or form.get("client_secret") != self.state.client_secret
            ):
                raise ApiError("invalid_client", "Client key or secret is invalid.", 401)
            grant = form.get("grant_type")
            if grant == "authorization_code":
                granted = self.state.redeem_code(
                    form.get("code", ""), form.get("redirect_uri", ""), form.get("code_verifier")
                )
            elif grant == "refresh_token":
                granted = self.state.refresh(form.get("refresh_token", ""))
            else:
                raise ApiError("unsupported_grant_type", "grant_type is not supported.")
        except ApiError as exc:
            body = {"error": exc.code, "error_description": exc.message, "log_id": _log_id()}
            return web.json_response(body, status=exc.status)
        access, refresh = self.state.new_tokens(granted)
        return web.json_response(
            {
                "access_token": access,
                "expires_in": self.state.access_lifetime,
                "open_id": self.state.accounts[granted.username].open_id,
                "refresh_expires_in": self.state.refresh_lifetime,
                "refresh_token": refresh,
                "scope": ",".join(granted.scopes),
                "token_type": "Bearer",
            }
        )

    def _gate(self, request: web.Request, endpoint: str, scope: str) -> Account:
        planned = self.state.planned_error(endpoint)
        if planned is not None:
            raise planned
        account = self.state.bearer(request.headers.get("Authorization"), scope)
        self.state.limit(request.headers.get("Authorization"), endpoint)
        return account

    async def _creator_info(self, request: web.Request) -> web.Response:
        account = self._gate(request, "creator_info", "video.publish")
        return _ok(
            {
                "creator_avatar_url": f"{self.url}/avatar/{account.username}.jpg",
                "creator_username": account.username,
                "creator_nickname": account.username.title(),
                "privacy_level_options": list(account.privacy_level_options),
                "comment_disabled": False,
                "duet_disabled": False,
                "stitch_disabled": True,
                "max_video_post_duration_sec": 600,
            }
        )

    async def _inbox_init(self, request: web.Request) -> web.Response:
        account = self._gate(request, "inbox_init", "video.upload")
        body = await _body(request)
        upload = self.state.start_upload(account, "inbox", {}, _mapping(body.get("source_info")))
        return _ok({"publish_id": upload.publish_id, "upload_url": self._upload_url(upload)})

    async def _direct_init(self, request: web.Request) -> web.Response:
        account = self._gate(request, "direct_init", "video.publish")
        body = await _body(request)
        info = _mapping(body.get("post_info"))
        privacy = info.get("privacy_level")
        if privacy not in _PRIVACY:
            raise ApiError("invalid_params", "post_info.privacy_level is required.")
        if privacy not in account.privacy_level_options:
            raise ApiError("privacy_level_option_mismatch", "privacy_level is not offered.")
        if not self.state.audited and privacy != "SELF_ONLY":
            raise ApiError(
                "unaudited_client_can_only_post_to_private_accounts",
                "Please review our integration guidelines.",
            )
        title = info.get("title", "")
        if not isinstance(title, str) or len(title.encode("utf-16-le")) // 2 > 2200:
            raise ApiError("invalid_params", "post_info.title is longer than 2200 characters.")
        upload = self.state.start_upload(account, "direct", info, _mapping(body.get("source_info")))
        return _ok({"publish_id": upload.publish_id, "upload_url": self._upload_url(upload)})

    async def _status(self, request: web.Request) -> web.Response:
        account = self._gate(request, "status", "video.upload")
        body = await _body(request)
        with self.state.lock:
            upload = self.state.uploads.get(str(body.get("publish_id")))
        if upload is None or upload.username != account.username:
            raise ApiError("invalid_publish_id", "publish_id does not exist.")
        return _ok(self.state.status_of(upload))

    def _upload_url(self, upload: UploadState) -> str:
        query = urlencode({"upload_id": upload.upload_id, "upload_token": secrets.token_hex(8)})
        return f"{self.url}/upload/?{query}"

    async def _put(self, request: web.Request) -> web.Response:
        upload = self.state.by_upload_id(request.query.get("upload_id", ""))
        if upload is None:
            return web.Response(status=404, text="no such upload")
        if upload.expires_at <= self.state.now():
            return web.Response(status=403, text="the upload URL expired")
        if upload.complete:
            return web.Response(status=416, text="the upload is complete")
        kind = request.headers.get("Content-Type", "").split(";")[0].strip()
        matched = _RANGE.fullmatch(request.headers.get("Content-Range", ""))
        if kind not in _VIDEO_TYPES or matched is None:
            return web.Response(status=400, text="Content-Type video/* and Content-Range needed")
        first, last, total = (int(n) for n in matched.groups())
        index = upload.next_chunk
        if (first, last) != upload.chunk_range(index) or total != upload.video_size:
            return web.Response(
                status=416, text=f"expected bytes {upload.chunk_range(index)} of chunk {index}"
            )
        if self.hold_chunk == index:
            self.held.set()
            await asyncio.to_thread(self._released.wait)
        data = await request.read()
        if len(data) != last - first + 1:
            return web.Response(status=400, text="the body's length is not the range's")
        with self.state.lock:
            if upload.next_chunk != index:  # another request took this chunk meanwhile
                return web.Response(status=416, text="that chunk was sent already")
            self.state.accept_chunk(upload, matched.group(0), data)
            complete = upload.complete
        if self.hold_reply == index:
            self.held.set()
            await asyncio.to_thread(self._released.wait)
        return web.Response(status=201 if complete else 206)


def _ok(data: dict[str, Any]) -> web.Response:
    return web.json_response(
        {"data": data, "error": {"code": "ok", "message": "", "log_id": _log_id()}}
    )


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.headers.get("Content-Type", "").startswith("application/json"):
        raise ApiError("invalid_params", "Content-Type must be application/json.")
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise ApiError("invalid_params", "The body is not JSON.") from None
    if not isinstance(body, dict):
        raise ApiError("invalid_params", "The body is not a JSON object.")
    return body


def _mapping(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, dict) else {}


def _log_id() -> str:
    return secrets.token_hex(16).upper()
